"""Compressed-series decode benchmark: Candor on every core against SimpleITK (issue 16, target 6).

Uses the 512×512×300 JPEG 2000 lossless series of ``bench/bench_load.py`` (written once under
``.cache/bench_load/ct_j2k`` with pylibjpeg-openjpeg through ``engine.io.write_series``) and
times whole processes, series in the page cache, repeats interleaved (the order alternates),
medians: ``candor info SERIES`` (scan + decode every slice into the volume; worker processes
when the first slice says they pay off), Candor's loader held to one process (threads only, as
before), and SimpleITK's ``ImageSeriesReader`` (GDCM + OpenJPEG). It then checks that Candor's
volume and SimpleITK's hold the same bits.

    python bench/bench_decode.py [--repeats 3] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_convert import CANDOR, environment, machine  # noqa: E402
from bench_load import SERIES, make_series  # noqa: E402

ONE_PROCESS = """
import sys
from engine.io import scan
from engine.io.pixels import allocate, fill, plan_pixels
from engine.io.stack import stack_geometry
stack = stack_geometry(scan(sys.argv[1]).series[0].headers)
plan = plan_pixels(stack.headers)
fill(allocate(stack.geometry.shape, plan.out), stack.headers, plan, workers=3)
"""
SIMPLEITK = """
import sys
import SimpleITK as sitk
reader = sitk.ImageSeriesReader()
reader.SetFileNames(reader.GetGDCMSeriesFileNames(sys.argv[1]))
reader.Execute()
"""
SAME_BITS = """
import sys
import numpy as np
import SimpleITK as sitk
from engine.io import load
reader = sitk.ImageSeriesReader()
reader.SetFileNames(reader.GetGDCMSeriesFileNames(sys.argv[1]))
theirs = sitk.GetArrayFromImage(reader.Execute())
ours = load(sys.argv[1]).array
print(ours.shape == theirs.shape and bool(np.array_equal(ours, theirs)))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    spec = SERIES["ct_j2k"]
    folder = str(make_series("ct_j2k", spec["nz"], spec["syntax"]))
    env = environment()
    commands = {
        "candor info (all cores)": [*CANDOR, "info", folder],
        "Candor loader, one process (threads)": [sys.executable, "-c", ONE_PROCESS, folder],
        "SimpleITK ImageSeriesReader": [sys.executable, "-c", SIMPLEITK, folder],
    }
    print(f"machine: {machine()}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    subprocess.run(["cat", *Path(folder).iterdir()], stdout=subprocess.DEVNULL, check=True)
    for r in range(args.repeats):
        for name in (list(commands) if r % 2 == 0 else list(commands)[::-1]):
            t = time.perf_counter()
            subprocess.run(commands[name], env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=ROOT)
            times[name].append(time.perf_counter() - t)
    peer = statistics.median(times["SimpleITK ImageSeriesReader"])
    print(f"{spec['label']}, {args.repeats} interleaved repeats, medians:")
    if args.markdown:
        print("| method | wall (s) | SimpleITK's time ÷ this |\n|---|---:|---:|")
    for name, runs in times.items():
        wall = statistics.median(runs)
        row = (name, wall, peer / wall)
        print(("| {} | {:.2f} | {:.2f}× |" if args.markdown else "{:40} {:7.2f} s  {:.2f}×")
              .format(*row))
    same = subprocess.run([sys.executable, "-c", SAME_BITS, folder], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()
    print(f"same bits as SimpleITK: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
