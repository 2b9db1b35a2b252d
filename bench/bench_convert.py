"""Conversion benchmark: ``candor convert SERIES --out x.nii`` against ``dcm2niix -z n``, and the
start-up of ``candor --version`` / ``info`` / ``scan`` (issue 16, target 5).

Generates once (cached under ``.cache/bench_convert``) a 512×512×200 int16 CT series, 200
uncompressed files, RescaleIntercept −1024 as scanners write it. Both tools run as whole
processes writing uncompressed NIfTI into a fresh folder, with the series in the page cache
(one warm-up run each), repeats interleaved (the order alternates) so that load from other work
on the machine falls on both; the table gives medians of wall and CPU (user + system) time.
Python runs as it does when installed, with compiled bytecode (``PYTHONPYCACHEPREFIX`` under
``.cache``; ``PYTHONDONTWRITEBYTECODE`` would recompile every module on each run). The
``-X importtime`` summary lists the slowest top-level imports of each start-up command and
whether anything heavy was imported.

    python bench/bench_convert.py [--repeats 15] [--slices 200] [--markdown] [--baseline-tree DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench_convert"
CANDOR = [str(Path(sys.executable).with_name("candor"))]
HEAVY = ("torch", "SimpleITK", "scipy", "pandas", "sklearn", "highdicom", "nibabel", "pydicom")


def series(nz: int) -> Path:
    folder = CACHE / f"ct{nz}"
    if (folder / "complete").exists():
        return folder
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from engine.io import write_series
    from engine.volume import Geometry, Volume

    shutil.rmtree(folder, ignore_errors=True)
    hu = np.random.default_rng(0).integers(-1000, 2000, size=(nz, 512, 512)).astype(np.int16)
    volume = Volume(hu, Geometry((512, 512, nz), (0.7, 0.7, 1.25), (-180.0, -180.0, -100.0)), "CT")
    write_series(volume, folder, rescale=(1.0, -1024.0))
    (folder / "complete").touch()
    return folder


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(ROOT / ".cache" / "pycache")
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one run; ``cmd`` may start with ``("cwd", folder)``."""
    cwd = None
    if cmd and isinstance(cmd[0], tuple):
        cwd, cmd = cmd[0][1], cmd[1:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   cwd=cwd)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def convert_commands(folder: Path, out: Path, baseline: Path | None) -> dict[str, callable]:
    def candor() -> list[str]:
        target = out / "candor.nii"
        target.unlink(missing_ok=True)
        return [*CANDOR, "convert", str(folder), "--out", str(target)]

    def dcm2niix() -> list[str]:
        target = out / "dcm2niix"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        return ["dcm2niix", "-z", "n", "-b", "n", "-f", "x", "-o", str(target), str(folder)]

    def before() -> list:  # another checkout of Candor (e.g. `git archive OLD engine viewer`)
        target = out / "baseline.nii"
        target.unlink(missing_ok=True)
        return [("cwd", str(baseline)), sys.executable, "-m", "engine", "convert", str(folder),
                "--out", str(target)]

    commands = {"candor convert": candor, "dcm2niix -z n": dcm2niix}
    if baseline is not None:
        commands["candor convert (baseline tree)"] = before
    return commands


WORK = """
import sys, time
from engine.cli import build_parser
from engine.io import load, write_image
build_parser()
t = time.perf_counter()
write_image(load(sys.argv[1]), sys.argv[2])
print(time.perf_counter() - t)
"""


def work_only(folder: Path, out: Path, repeats: int, env: dict) -> float:
    """Median seconds of Candor's conversion inside a process whose imports are done."""
    times = []
    for _ in range(repeats + 1):
        (out / "work.nii").unlink(missing_ok=True)
        run = subprocess.run([sys.executable, "-c", WORK, str(folder), str(out / "work.nii")],
                             env=env, capture_output=True, text=True, cwd=ROOT, check=True)
        times.append(float(run.stdout.strip()))
    return statistics.median(times[1:])


def run_interleaved(commands: dict, repeats: int, env: dict) -> dict[str, list[tuple[float, float]]]:
    names = list(commands)
    for name in names:  # warm-up: page cache, bytecode
        timed(commands[name](), env)
    results: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            results[name].append(timed(commands[name](), env))
    return results


def import_summary(argv: list[str], env: dict) -> tuple[list[tuple[str, float]], list[str]]:
    """The slowest top-level imports (ms, cumulative) and the heavy packages imported."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-c",
                          "import sys; from viewer.cli import main; sys.exit(main(sys.argv[1:]))",
                          *argv], env=env, capture_output=True, text=True, cwd=ROOT)
    top, loaded = [], set()
    for line in run.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            loaded.add(m.group(3).split(".")[0])
            if len(m.group(2)) <= 1:
                top.append((m.group(3), int(m.group(1)) / 1000))
    return sorted(top, key=lambda t: -t[1])[:5], sorted(loaded & set(HEAVY))


def machine() -> str:
    model = flags = ""
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
        if line.startswith("Flags:"):
            have = set(line.split(":", 1)[1].split())
            flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in have)
    load = os.getloadavg()
    return (f"{model}, {os.cpu_count()} CPUs, flags: {flags or 'none of avx2/avx512'}; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def version(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--slices", type=int, default=200)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--baseline-tree", type=Path, metavar="DIR",
                    help="also time `python -m engine convert` from this source tree")
    args = ap.parse_args()
    if shutil.which("dcm2niix") is None:
        print("dcm2niix is not installed (apt-get install dcm2niix)", file=sys.stderr)
        return 2
    folder, env = series(args.slices), environment()
    print(f"machine: {machine()}")
    print(f"peer: {version(['dcm2niix', '-v'])}")
    with tempfile.TemporaryDirectory() as tmp:
        conv = run_interleaved(convert_commands(folder, Path(tmp), args.baseline_tree),
                               args.repeats, env)
        work = work_only(folder, Path(tmp), args.repeats, env)
    floor = {"python -c pass": lambda: [sys.executable, "-c", "pass"],
             "python -c 'import numpy'": lambda: [sys.executable, "-c", "import numpy"]}
    floors = run_interleaved(floor, args.repeats, env)
    starts = {f"candor {' '.join(a)}": (lambda a=a: [*CANDOR, *a])
              for a in (["--version"], ["info", str(folder)], ["scan", str(folder)])}
    start = run_interleaved(starts, args.repeats, env)
    peer = statistics.median(w for w, _ in conv["dcm2niix -z n"])
    rows = []
    for name, runs in {**conv, **start, **floors}.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        ratio = f"{wall / peer:.2f}×" if name in conv else ""
        rows.append((name.replace(str(folder), "SERIES"), wall, cpu, ratio))
    fmt = "| {} | {:.3f} | {:.3f} | {} |" if args.markdown else "{:32} {:8.3f} {:8.3f} {}"
    print(f"512×512×{args.slices} int16 CT, {args.repeats} interleaved repeats, medians (s):")
    print("| command | wall | CPU | × dcm2niix |\n|---|---|---|---|" if args.markdown
          else f"{'command':32} {'wall':>8} {'CPU':>8} ×dcm2niix")
    for row in rows:
        print(fmt.format(*row))
    print(f"candor's conversion alone, imports done (load + write .nii in one process): "
          f"{work:.3f} s = {work / peer:.2f}× dcm2niix's whole run")
    for argv in (["--version"], ["info", str(folder)], ["scan", str(folder)]):
        top, heavy = import_summary(argv, env)
        slowest = ", ".join(f"{m} {ms:.0f} ms" for m, ms in top)
        print(f"-X importtime candor {argv[0]}: heavy imported: {heavy or 'none'}; "
              f"slowest top-level imports: {slowest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
