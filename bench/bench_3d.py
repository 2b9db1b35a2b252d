"""3D view benchmark: time to first frame, full-quality and interactive frame times.

"first frame" is the proxy the view shows at once; "first full frame" the idle-quality volume
that replaces it (on the CPU ray caster: at most 256³ voxels, strided above that). Uses the
viewer's own scene (viewer/qt/view3d/scene.py) in an 800×600 VTK window, so it needs an
X display: ``xvfb-run -a python bench/bench_3d.py``. Volumes: a synthetic CT head phantom at
256³ and 512×512×400 (int16). "Interactive" is what a rotating mouse drag renders (downsampled
proxy, half image resolution on the CPU ray caster); "full" is what the view refines to when idle.
Peer: vtkSmartVolumeMapper in its default mode (the GPU ray caster, on whatever OpenGL is there).

    xvfb-run -a python bench/bench_3d.py [--frames 20] [--no-peer] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def phantom(shape) -> np.ndarray:
    """Head-like CT: air, skin/soft tissue ellipsoid, a skull shell, brain inside (int16 HU)."""
    nz, ny, nx = shape
    out = np.empty(shape, np.int16)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    rng = np.random.default_rng(0)
    for z in range(nz):
        t = (z - nz / 2) / (0.48 * nz)
        scale = np.sqrt(max(1e-6, 1 - t * t))
        r = np.hypot((yy - ny / 2) / (0.44 * ny), (xx - nx / 2) / (0.38 * nx)) / scale
        sl = np.where(r < 1.0, 40, -1000).astype(np.int16)
        sl[(r > 0.86) & (r < 0.95)] = 1100
        sl[(r > 0.95) & (r < 1.0)] = 20
        out[z] = sl + rng.integers(-10, 10, (ny, nx), dtype=np.int16)
    return out


def stats(times):
    xs = sorted(times)
    return {"median_s": round(statistics.median(xs), 3), "max_s": round(xs[-1], 3),
            "fps": round(1.0 / statistics.median(xs), 1), "n": len(xs)}


def bench_candor(array, spacing_zyx, frames):
    from vtkmodules.vtkRenderingCore import vtkRenderWindow

    from viewer.qt.view3d.rendering import renderer_string
    from viewer.qt.view3d.scene import VolumeScene

    rw = vtkRenderWindow()
    rw.SetSize(800, 600)
    rw.SetOffScreenRendering(1)
    rw.Render()
    scene = VolumeScene(rw)
    t0 = time.perf_counter()
    scene.set_volume(array, spacing_zyx, (0.0, 0.0, 0.0), "CT")
    scene.apply_transfer("CT bone")
    scene.set_interactive(True)          # what the 3D view shows first: the proxy
    scene.render()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    scene.set_interactive(False)         # then, once idle, the full-quality volume
    scene.render()
    first_full = time.perf_counter() - t0
    cam = scene.renderer.GetActiveCamera()
    full = []
    for _ in range(max(3, frames // 4)):
        cam.Azimuth(5)
        t = time.perf_counter()
        scene.render()
        full.append(time.perf_counter() - t)
    scene.set_interactive(True)
    scene.render()
    inter = []
    for _ in range(frames):
        cam.Azimuth(5)
        t = time.perf_counter()
        scene.render()
        inter.append(time.perf_counter() - t)
    t = time.perf_counter()
    scene.set_interactive(False)
    scene.render()
    refine = time.perf_counter() - t
    result = {"renderer": renderer_string(rw), "mapper": scene.mapper_kind,
              "first_frame_s": round(first, 3), "first_full_frame_s": round(first_full, 3),
              "full_stride": scene.full_stride, "full": stats(full), "interactive": stats(inter),
              "refine_frame_s": round(refine, 3), "proxy": scene.proxy is not None}
    rw.Finalize()
    return result


def bench_peer(array, spacing_zyx):
    from vtkmodules.vtkRenderingCore import (vtkRenderer, vtkRenderWindow, vtkVolume,
                                             vtkVolumeProperty)
    from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

    from viewer.qt.view3d.rendering import image_data
    from viewer.qt.view3d.transfer import TRANSFER_PRESETS, build_functions

    rw = vtkRenderWindow()
    rw.SetSize(800, 600)
    rw.SetOffScreenRendering(1)
    ren = vtkRenderer()
    rw.AddRenderer(ren)
    img, _kept = image_data(array, spacing_zyx[::-1], (0, 0, 0))
    mapper = vtkSmartVolumeMapper()
    mapper.SetInputData(img)
    prop = vtkVolumeProperty()
    opacity, color = build_functions(TRANSFER_PRESETS["CT bone"], (-1000, 1000))
    prop.SetScalarOpacity(opacity)
    prop.SetColor(color)
    prop.ShadeOn()
    vol = vtkVolume()
    vol.SetMapper(mapper)
    vol.SetProperty(prop)
    ren.AddVolume(vol)
    ren.ResetCamera()
    t = time.perf_counter()
    rw.Render()
    first = time.perf_counter() - t
    ren.GetActiveCamera().Azimuth(5)
    t = time.perf_counter()
    rw.Render()
    second = time.perf_counter() - t
    rw.Finalize()
    return {"first_frame_s": round(first, 3), "frame_s": round(second, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    results = {}
    for name, shape, spacing in (("256^3", (256, 256, 256), (1.0, 1.0, 1.0)),
                                 ("512x512x400", (400, 512, 512), (0.6, 0.45, 0.45))):
        array = phantom(shape)
        results[name] = {"candor": bench_candor(array, spacing, args.frames)}
        if not args.no_peer and name == "256^3":
            results[name]["peer_vtkSmartVolumeMapper_default"] = bench_peer(array, spacing)
        print(name, json.dumps(results[name]), file=sys.stderr)
        del array
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
