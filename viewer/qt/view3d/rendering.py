"""Choosing how to ray-cast: GPU on a hardware OpenGL renderer, VTK's CPU ray caster otherwise.

On Mesa's software renderers (llvmpipe, softpipe, swrast) the GPU ray caster runs ~20× slower
than ``vtkFixedPointVolumeRayCastMapper`` (8–11 s vs 0.45 s per 256³ frame here), so the renderer
string decides. ``CANDOR_VOLUME_MAPPER=cpu|gpu`` overrides the choice.
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np

from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper

log = logging.getLogger(__name__)

SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "swiftshader",
                      "microsoft basic render", "gdi generic", "lavapipe")


def renderer_string(render_window) -> str:
    """The OpenGL renderer name of an initialised render window ('' if unknown)."""
    try:
        caps = render_window.ReportCapabilities() or ""
    except Exception:  # some window types cannot report
        return ""
    match = re.search(r"OpenGL renderer string:\s*(.+)", caps)
    return match.group(1).strip() if match else ""


def is_software(renderer: str) -> bool:
    name = renderer.lower()
    return not name or any(s in name for s in SOFTWARE_RENDERERS)


def mapper_kind(render_window) -> str:
    """``"gpu"`` on a hardware OpenGL renderer, ``"cpu"`` on a software one (or when unknown)."""
    choice = os.environ.get("CANDOR_VOLUME_MAPPER", "").lower()
    renderer = renderer_string(render_window)
    gpu = choice == "gpu" or (choice != "cpu" and not is_software(renderer))
    log.info("OpenGL renderer %r: %s volume mapper", renderer, "GPU" if gpu else "CPU")
    return "gpu" if gpu else "cpu"


def new_volume_mapper(kind: str):
    """The GPU ray caster, or VTK's fixed-point CPU ray caster with sampling left to the caller."""
    if kind == "gpu":
        from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkOpenGLGPUVolumeRayCastMapper

        mapper = vtkOpenGLGPUVolumeRayCastMapper()
        mapper.SetAutoAdjustSampleDistances(True)
        return mapper
    mapper = vtkFixedPointVolumeRayCastMapper()
    mapper.SetAutoAdjustSampleDistances(False)
    mapper.SetLockSampleDistanceToInputSpacing(False)
    return mapper


def image_data(array: np.ndarray, spacing_xyz, origin_xyz) -> tuple[vtkImageData, np.ndarray]:
    """A vtkImageData sharing ``array``'s memory (``[z, y, x]``, made contiguous if it is not).

    Returns the array actually shared: keep it alive as long as the image data.
    """
    data = np.ascontiguousarray(array)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    img = vtkImageData()
    img.SetDimensions(data.shape[2], data.shape[1], data.shape[0])
    img.SetSpacing(*spacing_xyz)
    img.SetOrigin(*origin_xyz)
    vtk_arr = numpy_to_vtk(data.ravel(), deep=False)
    vtk_arr.SetName("scalars")
    img.GetPointData().SetScalars(vtk_arr)
    return img, data


def proxy_factor(shape, max_voxels: int = 160 ** 3) -> int:
    """Stride that brings a volume under ``max_voxels`` for interactive rendering (1 = none)."""
    n = int(np.prod(shape))
    factor = 1
    while n / factor ** 3 > max_voxels:
        factor += 1
    return factor
