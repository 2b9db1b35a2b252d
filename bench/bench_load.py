"""Loading benchmark: Candor's loader vs SimpleITK's ImageSeriesReader vs a naive pydicom loop.

Generates (once, cached under ``.cache/bench_load``) a 512×512×400 int16 CT-like series (400
uncompressed files) and a 512×512×300 JPEG 2000 lossless series (300 files), then measures, each
method in a fresh subprocess with the files in the page cache: wall time (median of repeats) and
peak resident memory above the process's baseline. The I/O floor is reading every file's bytes.

    python bench/bench_load.py [--repeats 3] [--markdown] [--scan-variants]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench_load"

SERIES = {
    "ct_uncompressed": dict(nz=400, syntax="1.2.840.10008.1.2.1", label="512×512×400 int16, uncompressed"),
    "ct_j2k": dict(nz=300, syntax="1.2.840.10008.1.2.4.90", label="512×512×300 int16, JPEG 2000 lossless"),
}

# Each method is a snippet run in a fresh interpreter; it defines run(folder) -> array-like.
METHODS = {
    "candor": """
from engine.io import load
def run(folder):
    return load(folder).array
""",
    "simpleitk": """
import SimpleITK as sitk
def run(folder):
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(folder))
    return r.Execute()
""",
    "naive_pydicom": """
import os, numpy as np, pydicom
def run(folder):
    dss = [pydicom.dcmread(os.path.join(folder, f)) for f in os.listdir(folder)]
    normal = np.cross(*np.reshape(np.asarray(dss[0].ImageOrientationPatient, float), (2, 3)))
    dss.sort(key=lambda ds: float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)))
    vol = np.stack([ds.pixel_array for ds in dss])
    slope, intercept = float(dss[0].RescaleSlope), float(dss[0].RescaleIntercept)
    if (slope, intercept) != (1.0, 0.0):
        vol = vol * int(slope) + int(intercept) if slope.is_integer() and intercept.is_integer() \\
            else vol * slope + intercept
    return vol
""",
    "raw_bytes": """
import os
def run(folder):
    return [open(os.path.join(folder, f), 'rb').read() for f in os.listdir(folder)]
""",
}

RUNNER = """
import gc, sys, time, json
sys.path.insert(0, {root!r})
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * {page}
def hwm():  # this process's peak RSS (ru_maxrss would include the parent's, inherited at exec)
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmHWM'))
{snippet}
gc.collect()
base = rss()  # resident memory after the imports: the baseline

t = time.perf_counter()
out = run({folder!r})
wall = time.perf_counter() - t
peak = hwm()
print(json.dumps({{"wall": wall, "peak_above_base": peak - base}}))
"""


def make_series(name: str, nz: int, syntax: str) -> Path:
    folder = CACHE / name
    if folder.is_dir() and len(os.listdir(folder)) == nz:
        return folder
    import numpy as np

    from engine.io import write_series
    from engine.volume import Geometry, Volume

    folder.mkdir(parents=True, exist_ok=True)
    z, y, x = np.ogrid[:nz, :512, :512]
    body = ((x - 256) ** 2 + (y - 256) ** 2 < 200 ** 2)
    rng = np.random.default_rng(0)
    hu = np.where(body, 40, -1000).astype(np.int16) + (z % 7).astype(np.int16)
    hu = hu + rng.integers(-20, 20, size=(1, 512, 512), dtype=np.int16)
    geometry = Geometry((512, 512, nz), (0.7, 0.7, 1.25), (-179.0, -179.0, -250.0))
    print(f"writing {name} ({nz} files)…", file=sys.stderr)
    write_series(Volume(hu, geometry, "CT"), folder, transfer_syntax=syntax, rescale=(1, -1024),
                 series_description=name)
    return folder


def measure(method: str, folder: Path) -> dict:
    code = RUNNER.format(root=str(ROOT), page=os.sysconf("SC_PAGE_SIZE"),
                         snippet=METHODS[method], folder=str(folder))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--scan-variants", action="store_true",
                        help="also time the header scan with 1-8 threads and with process pools")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.scan_variants:
        scan_variants(make_series("ct_uncompressed", **{k: v for k, v in
                                                        SERIES["ct_uncompressed"].items()
                                                        if k != "label"}))
    rows = []
    for name, spec in SERIES.items():
        folder = make_series(name, spec["nz"], spec["syntax"])
        volume_bytes = 512 * 512 * spec["nz"] * 2
        measure("raw_bytes", folder)  # warm the page cache
        for method in METHODS:
            runs = [measure(method, folder) for _ in range(args.repeats)]
            wall = statistics.median(r["wall"] for r in runs)
            peak = statistics.median(r["peak_above_base"] for r in runs)
            rows.append(dict(series=spec["label"], method=method, wall=wall,
                             peak_ratio=peak / volume_bytes, peak_mb=peak / 1e6))
            print(f"{name:16} {method:14} {wall:7.3f} s  peak {peak / 1e6:7.1f} MB "
                  f"({peak / volume_bytes:.2f}× volume)", file=sys.stderr)
    print_table(rows, args.markdown)
    return 0


def scan_variants(folder: Path) -> None:
    """Header scan of the 400 files: threads vs process pools (why engine.io uses threads)."""
    import multiprocessing as mp
    import time
    from concurrent.futures import ProcessPoolExecutor

    from engine.io.scan import _safe_header, read_headers

    files = sorted(folder.iterdir())

    def timed(fn, n=5):
        runs = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)

    def evict():  # drop these files (only) from the page cache: a cold read
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)

    def cold(fn):
        def run():
            evict()
            t = time.perf_counter()
            fn()
            return time.perf_counter() - t
        return statistics.median(run() for _ in range(3))

    print("| header scan of 400 files | warm cache, median wall (s) | cold (evicted), median wall (s) |")
    print("| --- | ---: | ---: |")
    for threads in (1, 2, 4, 8):
        def scan_once(threads=threads):
            read_headers(files, [], threads=threads)
        print(f"| {threads} thread{'s' if threads > 1 else ''} | {timed(scan_once):.3f} | "
              f"{cold(scan_once):.3f} |")
    for method in ("fork", "forkserver", "spawn"):
        ctx = mp.get_context(method)

        def run(ctx=ctx):
            with ProcessPoolExecutor(2, mp_context=ctx) as pool:
                list(pool.map(_safe_header, files, chunksize=50))
        print(f"| 2 processes ({method}) | {timed(run, 3):.3f} | — |")


def print_table(rows: list[dict], markdown: bool) -> None:
    by = {(r["series"], r["method"]): r for r in rows}
    lines = ["| series | method | wall (s) | vs Candor | peak memory above baseline |",
             "| --- | --- | ---: | ---: | ---: |"]
    for r in rows:
        ours = by[(r["series"], "candor")]["wall"]
        ratio = "—" if r["method"] == "candor" else f"{r['wall'] / ours:.2f}× Candor's time"
        lines.append(f"| {r['series']} | {r['method']} | {r['wall']:.3f} | {ratio} | "
                     f"{r['peak_mb']:.0f} MB ({r['peak_ratio']:.2f}× volume) |")
    print("\n".join(lines) if markdown else json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
