"""The 3D view widget: VTK's Qt render window + a small toolbar, bound to the ViewerModel."""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera

from engine.errors import Cancelled
from engine.jobs import JobRunner
from viewer.qt.jobs_bridge import outcome, submit_watched
from viewer.qt.view3d.scene import VolumeScene
from viewer.qt.view3d.surfaces import label_surfaces
from viewer.qt.view3d.transfer import TRANSFER_PRESETS
from viewer.state.layers import LabelsLayer
from viewer.state.viewer_model import ViewerModel

log = logging.getLogger(__name__)
REFINE_AFTER_MS = 300
SLIDER_MIN_WIDTH = 64       # px: the toolbar's Shift and Opacity sliders


class _VTKWidget(QVTKRenderWindowInteractor):
    """VTK's Qt widget, safe to receive events after its render window was released."""

    def Finalize(self) -> None:  # noqa: N802 (VTK naming)
        if self._RenderWindow is not None:
            super().Finalize()

    def paintEvent(self, ev) -> None:  # noqa: N802
        if self._RenderWindow is not None:
            super().paintEvent(ev)

    def resizeEvent(self, ev) -> None:  # noqa: N802
        if self._RenderWindow is not None:
            super().resizeEvent(ev)


class View3D(QWidget):
    """Volume rendering + label surfaces + slice frames; interactive proxy, refined when idle."""

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_3d")
        self.model = model
        self.view = "3d"
        self.vtk_widget = _VTKWidget(self)
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.scene = VolumeScene(self.render_window)
        self.interactor = self.render_window.GetInteractor()
        style = vtkInteractorStyleTrackballCamera()
        self.interactor.SetInteractorStyle(style)
        style.AddObserver("StartInteractionEvent", lambda *_: self._interaction(True))
        style.AddObserver("EndInteractionEvent", lambda *_: self._interaction(False))
        self._refine = QTimer(self, singleShot=True, interval=REFINE_AFTER_MS)
        self._refine.timeout.connect(self.render_full)
        self._runner = JobRunner(max_workers=1)
        self._surface_job = None
        self._volume_image = None
        self._build_toolbar()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.vtk_widget, 1)
        self._initialised = False
        self._stale = False
        self._connections = [(model.events.image, self._on_image),
                             (model.cursor.events.changed, self._on_cursor),
                             (model.layers.events.inserted, self._on_layers),
                             (model.layers.events.removed, self._on_layers)]
        for signal, slot in self._connections:
            signal.connect(slot)
        self._label_slots: list = []

    def _build_toolbar(self) -> None:
        self.toolbar = QWidget(self)
        self.toolbar.setObjectName("view3d_toolbar")
        self.toolbar.setStyleSheet("#view3d_toolbar { background: #1d1f24; } QLabel, QCheckBox { color: #d0d0d0; }")
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(TRANSFER_PRESETS))
        self.preset_box.currentTextChanged.connect(lambda name: self._transfer(preset=name))
        self.shift = QSlider(Qt.Orientation.Horizontal, toolTip="Shift the transfer function")
        self.shift.setRange(-100, 100)
        self.shift.valueChanged.connect(lambda _v: self._transfer())
        self.opacity = QSlider(Qt.Orientation.Horizontal, toolTip="Opacity")
        self.opacity.setRange(0, 200)
        self.opacity.setValue(100)
        self.opacity.valueChanged.connect(lambda _v: self._transfer())
        # Label surfaces sit inside the head the volume rendering draws: when they first appear
        # for an image the volume is switched off (as in 3D Slicer); ticking it back is kept.
        self.show_volume = QCheckBox("Volume", checked=True, toolTip="Volume rendering")
        self.show_volume.toggled.connect(self._volume_toggled)
        self._volume_chosen = False     # the reader set the box for this image
        self.show_labels = QCheckBox("Labels", checked=True)
        self.show_labels.toggled.connect(lambda _c: self._update_surfaces())
        self.show_planes = QCheckBox("Planes", checked=True)
        self.show_planes.toggled.connect(lambda _c: self._on_cursor(self.model.cursor.index))
        reset = QToolButton(text="Reset", toolTip="Reset the camera (r)")
        reset.clicked.connect(self.reset_camera)
        for slider in (self.shift, self.opacity):   # a squashed slider looks like an empty box
            slider.setMinimumWidth(SLIDER_MIN_WIDTH)
        row = QHBoxLayout(self.toolbar)
        row.setContentsMargins(6, 2, 6, 2)
        self.busy = QLabel("")
        self.busy.setStyleSheet("color: #e6c84a;")
        for w in (QLabel("3D"), self.preset_box, QLabel("Shift"), self.shift, QLabel("Opacity"),
                  self.opacity, self.show_volume, self.show_labels, self.show_planes, reset, self.busy):
            row.addWidget(w, 1 if w in (self.shift, self.opacity) else 0)

    # Lifecycle ------------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._initialised and self.render_window is not None:
            self.vtk_widget.Initialize()
            self._initialised = True
            self._stale = True
        if self._stale:
            self._on_image(self.model.image)
        elif self.model.grid is not None:
            self._on_cursor(self.model.cursor.index)   # the crosshair may have moved meanwhile

    def cleanup(self) -> None:
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections = []
        self._disconnect_labels()
        self._refine.stop()
        self._runner.shutdown(cancel=True, wait=False)
        if self.render_window is not None:
            self.vtk_widget.Finalize()
            self._release_vtk()

    def _release_vtk(self) -> None:
        """Drop every reference to the render window so VTK destroys it now.

        On X11 the render window owns its own display connection, closed only by its destructor;
        left to interpreter exit, that can run after the X server is gone, and Xlib's I/O error
        handler then ends the process with status 1.
        """
        self._initialised = False
        self.interactor.SetRenderWindow(None)
        self.vtk_widget._RenderWindow = None      # the interactor stays (Qt events call into it)
        self.vtk_widget.hide()
        self.scene.render_window = None
        self.render_window = None

    def closeEvent(self, event) -> None:  # noqa: N802
        self.cleanup()
        super().closeEvent(event)

    # Model ----------------------------------------------------------------------------------
    def _on_image(self, layer) -> None:
        if not self._initialised or not self.isVisible():
            self._stale = True           # a hidden 3D view renders nothing; it catches up on show
            return
        self._stale = False
        if layer is None or self.model.grid is None:
            self.scene.clear_volume()
            self.render_full()
            return
        grid = self.model.grid
        if layer is not self._volume_image:    # a new image: volume on until labels appear
            self._volume_image, self._volume_chosen = layer, False
            self.show_volume.blockSignals(True)
            self.show_volume.setChecked(True)
            self.show_volume.blockSignals(False)
            self.scene.volume_visible = True
        self.render_window.Render()      # make sure the GL context exists before choosing a mapper
        self.scene.set_volume(self.model.display(layer), grid.display_spacing_zyx,
                              grid.geometry.origin, layer.volume.modality)
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentText(self.scene.preset)
        self.preset_box.blockSignals(False)
        self._on_cursor(self.model.cursor.index)
        self._on_layers()
        # Progressive: the downsampled proxy first (fast), the idle-quality volume once idle.
        self._render_interactive()
        self._refine.start()

    def _volume_toggled(self, checked: bool) -> None:
        self._volume_chosen = True
        self.scene.set_volume_visible(checked)
        self._refine.start()

    def _on_cursor(self, _zyx) -> None:
        if self.model.grid is not None and self._initialised and self.isVisible():
            self.scene.set_cursor(self.model.cursor.lps, self.show_planes.isChecked())
            self._refine.start()         # coalesce: one full-quality render once the cursor rests

    def _disconnect_labels(self) -> None:
        for signal, slot in self._label_slots:
            signal.disconnect(slot)
        self._label_slots = []

    def _on_layers(self, *_args) -> None:
        self._disconnect_labels()
        for layer in self.model.layers.of_kind(LabelsLayer):
            for signal in (layer.events.data, layer.events.style, layer.events.visible,
                           layer.events.opacity):
                signal.connect(self._update_surfaces)
                self._label_slots.append((signal, self._update_surfaces))
        self._update_surfaces()

    def _update_surfaces(self, *_args) -> None:
        """Recompute label surfaces on a worker thread; the newest request wins."""
        if not self._initialised or self.model.grid is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        if self._surface_job is not None:
            self._surface_job.job.cancel()
        layers = [l for l in self.model.layers.of_kind(LabelsLayer) if l.visible] \
            if self.show_labels.isChecked() else []
        if not layers:
            self._surface_job = None     # the cancelled request is nobody's answer
            self.scene.set_surfaces([])
            self._refine.start()
            return
        grid = self.model.grid
        work = [(l, self.model.display(l), [i for i in l.label_ids if l.label_visible(i)]) for l in layers]

        def compute(*, progress=None, cancel=None):
            out = []
            for layer, display, ids in work:
                for label_id, poly in label_surfaces(display, grid.display_spacing_zyx,
                                                     grid.geometry.origin, ids, cancel=cancel):
                    out.append((poly, layer.color(label_id), max(layer.opacity, 0.3)))
            return out

        # on_finished, not a connect afterwards: a quick job could finish before it
        self._surface_job = submit_watched(self._runner, compute, parent=self, name="label surfaces",
                                           on_finished=self._surfaces_ready)

    def _surfaces_ready(self, job) -> None:
        if self._surface_job is None or job is not self._surface_job.job:
            return                       # superseded by a newer request
        surfaces, error = outcome(job)
        if isinstance(error, (Cancelled, CancelledError)):
            return                       # cancelled by closing: no newer request to wait for
        if error is not None:
            log.warning("label surfaces failed: %s: %s", type(error).__name__, error)
            return
        self.scene.set_surfaces(surfaces)
        if surfaces and not self._volume_chosen and self.show_volume.isChecked():
            self.show_volume.blockSignals(True)
            self.show_volume.setChecked(False)
            self.show_volume.blockSignals(False)
            self.scene.set_volume_visible(False)
        self.render_full()

    # Rendering ------------------------------------------------------------------------------
    def _transfer(self, preset: str | None = None) -> None:
        lo, hi = self.scene._range
        span = 1000.0 if self.model.modality == "CT" else (hi - lo)
        self.scene.apply_transfer(preset, shift=self.shift.value() / 100.0 * span * 0.5,
                                  opacity_scale=self.opacity.value() / 100.0)
        self._render_interactive()
        self._refine.start()

    def _interaction(self, started: bool) -> None:
        if started:
            self._refine.stop()
            self.scene.set_interactive(True)
        else:
            self._refine.start()

    def _render_interactive(self) -> None:
        if not self._initialised:
            return
        self.scene.set_interactive(True)
        self.scene.render()

    def render_full(self) -> None:
        if not self._initialised or self.render_window is None:
            return
        first = self.scene.full is not None and not getattr(self.scene.full, "rendered", False)
        if first:
            # The first full-quality frame computes shading gradients (seconds on a CPU): say so.
            self.busy.setText("preparing full quality…")
            self.busy.repaint()
        self.scene.set_interactive(False)
        self.scene.render()
        if first:
            self.scene.full.rendered = True
            self.busy.setText("")

    def reset_camera(self) -> None:
        self.scene.reset_camera()
        self.render_full()

    def grab_image(self):
        """The current frame (full quality) as ``(h, w, 3)`` uint8, read back from VTK."""
        self.render_full()
        return self.scene.image()
