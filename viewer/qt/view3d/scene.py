"""The 3D scene, Qt-free: volume (full + downsampled proxy), label surfaces, slice frames, crosshair.

World coordinates are patient LPS millimetres of the display grid (see viewer.state.orientation).
While the user interacts the scene draws a downsampled proxy at reduced image resolution; when
idle, the full volume at full resolution (``set_interactive``).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkFiltersSources import vtkLineSource
from vtkmodules.vtkIOImage import vtkPNGWriter
from vtkmodules.vtkRenderingCore import (vtkActor, vtkPolyDataMapper, vtkRenderer, vtkVolume,
                                         vtkVolumeProperty, vtkWindowToImageFilter)

import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL backend)
import vtkmodules.vtkInteractionStyle  # noqa: F401
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401

from viewer.qt.view3d.rendering import image_data, mapper_kind, new_volume_mapper, proxy_factor
from viewer.qt.view3d.transfer import TRANSFER_PRESETS, build_functions, default_preset, robust_range

log = logging.getLogger(__name__)

#: Plane colours of the slice views (axial red, coronal green, sagittal yellow).
PLANE_RGB = {0: (0.91, 0.34, 0.31), 1: (0.37, 0.75, 0.37), 2: (0.90, 0.78, 0.29)}
#: On the CPU ray caster the idle-quality volume is capped at this many voxels (strided above it):
#: its first frame computes gradients for every voxel (~5 s for 256³ on 2 cores), and at view
#: sizes of 1000 pixels or less a 256-voxel-wide volume already gives about a voxel per pixel.
CPU_FULL_MAX_VOXELS = 256 ** 3
#: The interactive proxy (all mappers).
PROXY_MAX_VOXELS = 128 ** 3
#: Interactive frames aim at this time (≥ 6 frames/s); the image sample distance adapts to it.
INTERACTIVE_FRAME_S = 0.15
IMAGE_SAMPLE_RANGE = (1.5, 4.0)


class VolumeScene:
    """Owns the renderer's content; ``render_window`` must be initialised before ``set_volume``."""

    def __init__(self, render_window) -> None:
        self.render_window = render_window
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.02, 0.02, 0.03)
        self.renderer.SetBackground2(0.16, 0.17, 0.22)
        self.renderer.GradientBackgroundOn()
        render_window.AddRenderer(self.renderer)
        self.mapper_kind = ""
        self.full: vtkVolume | None = None
        self.proxy: vtkVolume | None = None
        self._keep: list = []          # numpy arrays shared with VTK
        self.surface_actors: list[vtkActor] = []
        self.frame_actors: list[vtkActor] = []
        self.cross_actors: list[vtkActor] = []
        self.preset = "CT soft tissue"
        self.shift, self.opacity_scale = 0.0, 1.0
        self._range = (0.0, 1.0)
        self.interactive = False
        self.volume_visible = True      # the volume rendering (label surfaces may replace it)
        self.image_sample_distance = 2.5   # CPU ray caster: 1 ray per 2.5×2.5 pixels when moving
        self.last_frame_s = 0.0

    # Volume ---------------------------------------------------------------------------------
    def set_volume(self, display: np.ndarray, spacing_zyx, origin_xyz, modality: str) -> None:
        self.clear_volume()
        spacing_xyz = tuple(float(s) for s in spacing_zyx[::-1])
        self._range = robust_range(display)
        self.preset = default_preset(modality)
        self.mapper_kind = mapper_kind(self.render_window)
        cap = CPU_FULL_MAX_VOXELS if self.mapper_kind == "cpu" else display.size  # GPU: every voxel
        self.full = self._make_strided(display, spacing_xyz, origin_xyz, cap)
        if proxy_factor(display.shape, PROXY_MAX_VOXELS) > 1:
            self.proxy = self._make_strided(display, spacing_xyz, origin_xyz, PROXY_MAX_VOXELS)
            self.proxy.VisibilityOff()
        self.full_stride = proxy_factor(display.shape, cap)
        self._shape, self._spacing, self._origin = display.shape, spacing_xyz, origin_xyz
        self.apply_transfer()
        self._make_frames()
        self.set_interactive(False)
        self.reset_camera()

    def _make_strided(self, array: np.ndarray, spacing_xyz, origin_xyz, max_voxels: int) -> vtkVolume:
        """A volume of ``array`` strided to at most ``max_voxels`` (same origin, wider spacing)."""
        f = proxy_factor(array.shape, max_voxels)
        if f == 1:
            return self._make_volume(array, spacing_xyz, origin_xyz)
        return self._make_volume(array[::f, ::f, ::f], tuple(s * f for s in spacing_xyz), origin_xyz)

    def _make_volume(self, array: np.ndarray, spacing_xyz, origin_xyz) -> vtkVolume:
        img, kept = image_data(array, spacing_xyz, origin_xyz)
        self._keep.append(kept)
        mapper = new_volume_mapper(self.mapper_kind)
        mapper.SetInputData(img)
        volume = vtkVolume()
        volume.SetMapper(mapper)
        prop = vtkVolumeProperty()
        prop.SetInterpolationTypeToLinear()
        prop.ShadeOn()
        prop.SetAmbient(0.25)
        prop.SetDiffuse(0.75)
        prop.SetSpecular(0.25)
        volume.SetProperty(prop)
        self.renderer.AddVolume(volume)
        return volume

    def clear_volume(self) -> None:
        for vol in (self.full, self.proxy):
            if vol is not None:
                self.renderer.RemoveVolume(vol)
        self.full = self.proxy = None
        self._keep.clear()
        self.set_surfaces([])
        for actor in self.frame_actors + self.cross_actors:
            self.renderer.RemoveActor(actor)
        self.frame_actors, self.cross_actors = [], []

    def apply_transfer(self, preset: str | None = None, shift: float | None = None,
                       opacity_scale: float | None = None) -> None:
        self.preset = preset or self.preset
        self.shift = self.shift if shift is None else float(shift)
        self.opacity_scale = self.opacity_scale if opacity_scale is None else float(opacity_scale)
        opacity, color = build_functions(TRANSFER_PRESETS[self.preset], self._range, self.shift,
                                         self.opacity_scale)
        for vol in (self.full, self.proxy):
            if vol is not None:
                vol.GetProperty().SetScalarOpacity(opacity)
                vol.GetProperty().SetColor(color)

    def set_volume_visible(self, visible: bool) -> None:
        self.volume_visible = bool(visible)
        self.set_interactive(self.interactive)

    def set_interactive(self, interactive: bool) -> None:
        """Proxy volume at reduced image resolution while interacting, full quality otherwise."""
        self.interactive = interactive
        if self.full is None:
            return
        use_proxy = interactive and self.proxy is not None
        self.full.SetVisibility(self.volume_visible and not use_proxy)
        if self.proxy is not None:
            self.proxy.SetVisibility(self.volume_visible and use_proxy)
        if self.mapper_kind == "cpu":
            for vol in (self.full, self.proxy):
                if vol is None:
                    continue
                mapper = vol.GetMapper()
                spacing = min(mapper.GetInput().GetSpacing())
                mapper.SetImageSampleDistance(self.image_sample_distance if interactive else 1.0)
                mapper.SetSampleDistance(spacing)      # one sample per voxel along each ray

    # Surfaces, frames, crosshair ------------------------------------------------------------
    def set_surfaces(self, surfaces) -> None:
        """``surfaces``: [(vtkPolyData, (r, g, b) 0-255, opacity)] of label maps."""
        for actor in self.surface_actors:
            self.renderer.RemoveActor(actor)
        self.surface_actors = []
        for poly, rgb, opacity in surfaces:
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(poly)
            mapper.ScalarVisibilityOff()
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetColor(*(c / 255.0 for c in rgb))
            actor.GetProperty().SetOpacity(opacity)
            actor.GetProperty().SetSpecular(0.3)
            self.renderer.AddActor(actor)
            self.surface_actors.append(actor)

    def _bounds(self):
        lo = np.asarray(self._origin, float)
        hi = lo + (np.asarray(self._shape[::-1]) - 1) * np.asarray(self._spacing)
        return lo, hi

    def _line_actor(self, p0, p1, rgb, width: float = 1.5) -> vtkActor:
        src = vtkLineSource()
        src.SetPoint1(*p0)
        src.SetPoint2(*p1)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(src.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*rgb)
        actor.GetProperty().SetLineWidth(width)
        actor.source = src  # keep the source reachable for updates
        self.renderer.AddActor(actor)
        return actor

    def _make_frames(self) -> None:
        # One 4-segment outline per slice plane, moved by set_cursor.
        for axis in range(3):
            for _ in range(4):
                self.frame_actors.append(self._line_actor((0, 0, 0), (0, 0, 0), PLANE_RGB[axis], 1.2))
        for axis in range(3):
            self.cross_actors.append(self._line_actor((0, 0, 0), (0, 0, 0), PLANE_RGB[axis], 2.0))

    def set_cursor(self, lps, show: bool = True) -> None:
        """Move the slice-plane frames and the crosshair lines to the cursor (LPS mm)."""
        if not self.frame_actors:
            return
        lo, hi = self._bounds()
        p = np.asarray(lps, float)
        for view_axis in range(3):              # display numpy axis 0=S, 1=P, 2=L
            xyz_axis = 2 - view_axis
            others = [a for a in range(3) if a != xyz_axis]
            corners = []
            for u, v in ((0, 0), (1, 0), (1, 1), (0, 1)):
                c = p.copy()
                c[others[0]] = (lo, hi)[u][others[0]]
                c[others[1]] = (lo, hi)[v][others[1]]
                corners.append(c)
            for n in range(4):
                actor = self.frame_actors[view_axis * 4 + n]
                actor.source.SetPoint1(*corners[n])
                actor.source.SetPoint2(*corners[(n + 1) % 4])
                actor.SetVisibility(show)
            # The crosshair line along this axis, coloured like the view whose normal it is.
            a, b = p.copy(), p.copy()
            a[xyz_axis], b[xyz_axis] = lo[xyz_axis], hi[xyz_axis]
            cross = self.cross_actors[view_axis]
            cross.source.SetPoint1(*a)
            cross.source.SetPoint2(*b)
            cross.SetVisibility(show)

    # Camera and images ----------------------------------------------------------------------
    def reset_camera(self) -> None:
        """Anterior view, superior up (the patient's right on the screen's left), turned 30° to
        the patient's left and raised 15° so the slice frames read as planes."""
        cam = self.renderer.GetActiveCamera()
        if self.full is not None:
            lo, hi = self._bounds()
            centre = (lo + hi) / 2
            cam.SetFocalPoint(*centre)
            cam.SetPosition(centre[0], centre[1] - 4 * float(np.max(hi - lo)), centre[2])
            cam.SetViewUp(0, 0, 1)
            cam.Azimuth(30)
            cam.Elevation(15)
            cam.OrthogonalizeViewUp()
        self.renderer.ResetCamera()
        cam.Zoom(1.3)

    def render(self) -> None:
        start = time.perf_counter()
        self.render_window.Render()
        self.last_frame_s = time.perf_counter() - start
        if self.interactive and self.mapper_kind == "cpu" and self.full is not None:
            self._adapt_resolution()

    def _adapt_resolution(self) -> None:
        """Coarser rays when interactive frames run slow, finer when there is time to spare."""
        lo, hi = IMAGE_SAMPLE_RANGE
        ratio = self.last_frame_s / INTERACTIVE_FRAME_S
        if ratio > 1.15 or ratio < 0.6:
            self.image_sample_distance = float(np.clip(self.image_sample_distance * ratio ** 0.5, lo, hi))
            self.set_interactive(True)

    def image(self) -> np.ndarray:
        """The last rendered frame as ``(h, w, 3)`` uint8, top row first (read back from VTK)."""
        grab = vtkWindowToImageFilter()
        grab.SetInput(self.render_window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.Update()
        out = grab.GetOutput()
        w, h, _ = out.GetDimensions()
        pixels = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)
        return np.ascontiguousarray(pixels[::-1, :, :3])

    def save_png(self, path: str) -> None:
        grab = vtkWindowToImageFilter()
        grab.SetInput(self.render_window)
        grab.ReadFrontBufferOff()
        grab.Update()
        writer = vtkPNGWriter()
        writer.SetFileName(str(path))
        writer.SetInputConnection(grab.GetOutputPort())
        writer.Write()
