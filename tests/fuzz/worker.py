"""The fuzz worker: reads case folders (one path a line on stdin), drives each through Candor's
public loader API and writes one JSON result a line. Run by :mod:`tests.fuzz.harness` with an
address-space limit; a hang or a crash takes the worker down, and the harness restarts it.

    python -m tests.fuzz.worker --memory-mib 2048
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import traceback
import warnings
from pathlib import Path

MAX_STACKS = 8  # stacks loaded per case (a mutated folder rarely holds more)
ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def _where(exc: BaseException) -> str:
    """The innermost frame, and the innermost frame in Candor's engine, as file:line."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""

    def short(f):
        path = f.filename.split("site-packages/")[-1].replace(ROOT, "")
        return f"{path}:{f.lineno} {f.name}"
    engine = [f for f in frames if "/engine/" in f.filename]
    inner = short(frames[-1])
    if not engine or engine[-1] is frames[-1]:
        return inner
    return f"{inner} (from {short(engine[-1])})"


def _classify_exception(exc: BaseException) -> dict:
    from engine.errors import CandorError

    if isinstance(exc, CandorError):
        return {"outcome": "error", "error": str(exc)[:200]}
    kind = "memory" if isinstance(exc, MemoryError) else "unhandled"
    name = f"{type(exc).__module__}.{type(exc).__qualname__}".replace("builtins.", "")
    return {"outcome": kind, "exception": name, "message": str(exc)[:200], "where": _where(exc)}


def _volume_ok(volume) -> bool:
    import numpy as np

    g = volume.geometry
    return (volume.array.ndim == 3 and tuple(volume.array.shape[::-1]) == tuple(g.size)
            and bool(np.isfinite(g.affine_lps).all()))


def _step(fn) -> dict:
    try:
        return {"outcome": "ok", "value": fn()}
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the point: anything that is not a CandorError
        return _classify_exception(exc)


def drive(folder: Path, kind: str, target: str) -> dict:
    """scan → load every stack (DICOM), or load the file (NIfTI/NRRD/MetaImage)."""
    from engine.io import load, load_series, scan

    if kind != "dicom":
        result = _step(lambda: load(folder / target))
        return _volume_result(result) if result["outcome"] == "ok" else result
    scanned = _step(lambda: scan(folder))
    if scanned["outcome"] != "ok":
        return scanned
    result = scanned["value"]
    worst = {"outcome": "loaded", "skipped": len(result.skipped), "stacks": len(result.series),
             "warned": any(s.warnings for s in result.series)}
    for info in result.series[:MAX_STACKS]:
        loaded = _step(lambda info=info: load_series(info))
        step = _volume_result(loaded) if loaded["outcome"] == "ok" else loaded
        worst["warned"] = worst["warned"] or step.get("warned", False)
        if RANK[step["outcome"]] > RANK[worst["outcome"]]:
            worst.update({k: v for k, v in step.items() if k != "warned"})
    if worst["outcome"] == "loaded" and (worst["warned"] or worst["skipped"]):
        worst["outcome"] = "warning"
    return worst


def _volume_result(result: dict) -> dict:
    volume = result["value"]
    if not _volume_ok(volume):
        return {"outcome": "silent", "message": "volume array or geometry not valid "
                f"(shape {volume.array.shape}, size {volume.geometry.size})"}
    warned = bool(volume.warnings)
    return {"outcome": "warning" if warned else "loaded", "warned": warned}


# severity: a case's outcome is its worst step (crash/hang are set by the harness)
RANK = {"loaded": 0, "warning": 1, "error": 2, "silent": 3, "read_outside": 4, "unhandled": 5,
        "memory": 6, "hang": 7, "crash": 8}


def judge(result: dict, expect: str | None) -> dict:
    """Apply the mutation's expectation: "refuse" needs an error, "warn" a warning or an error."""
    outcome = result["outcome"]
    if expect == "refuse" and outcome in ("loaded", "warning"):
        result.update(outcome="read_outside", message="a header naming a file outside its "
                      "folder was loaded")
    elif expect == "warn" and outcome == "loaded" or expect == "warn" and (
            outcome == "warning" and not result.get("warned", True)):
        result.update(outcome="silent", message="damage that must be stated loaded without a "
                      "warning")
    return result


def run_case(case_dir: Path) -> dict:
    spec = json.loads((case_dir / "case.json").read_text())
    result = drive(case_dir / "input", spec["kind"], spec["target"])
    return judge(result, spec.get("expect"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mib", type=int, default=2048)
    args = parser.parse_args()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the result stream
    warnings.simplefilter("ignore")
    limit = args.memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import engine.io  # noqa: F401 - imported before the first case, not timed with it

    out.write("ready\n")
    for line in sys.stdin:
        case_dir = Path(line.strip())
        try:
            result = run_case(case_dir)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a bug in the harness itself, or in judging
            result = _classify_exception(exc)
        out.write(json.dumps({"case": str(case_dir), **result}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
