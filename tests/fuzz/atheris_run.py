"""Coverage-guided fuzzing with atheris (optional: ``pip install atheris``; not a dependency).

    python -m tests.fuzz.atheris_run --seed volume_nii_gz -- -max_total_time=600

libFuzzer mutates the bytes of one seed file (pydicom and Candor's engine are instrumented, so it
keeps the inputs that reach new code) and the input is driven through the same scan → load path
as the mutation fuzzer, in this process. A failure that Python sees (unhandled, memory, silent
volume) is saved as a case folder in ``tests/fuzz/corpus/`` and fuzzing goes on; a hang or a
crash stops libFuzzer, which writes the input as ``timeout-*``/``crash-*`` in ``--artifacts``
(wrap one into a case folder with ``--wrap FILE``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from tests.fuzz.harness import CORPUS, FAILURES, describe, known_signatures, save_case


def _case(seed, data: bytes, root: Path) -> Path:
    digest = hashlib.sha1(data).hexdigest()[:12]
    case = root / f"{seed.name}-atheris-{digest}"
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(seed.folder, case / "input")
    (case / "input" / seed.target[0]).write_bytes(data)
    spec = {"seed": seed.name, "seed_about": seed.about, "master_seed": "atheris",
            "case": digest, "kind": seed.kind, "target": seed.target[0],
            "mutations": ["atheris (coverage-guided) input"], "expect": None}
    (case / "case.json").write_text(json.dumps(spec, indent=1) + "\n")
    return case


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz.atheris_run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", default="CT_small", help="seed name (tests/fuzz/seeds.py)")
    p.add_argument("--artifacts", type=Path, default=Path(".cache/atheris"))
    p.add_argument("--wrap", type=Path, help="make a libFuzzer crash/timeout file a corpus case")
    args, libfuzzer = p.parse_known_args(argv)
    try:
        import atheris
    except ImportError:
        print("atheris is not installed: pip install atheris (or use python -m tests.fuzz.run)",
              file=sys.stderr)
        return 2
    with atheris.instrument_imports():  # before anything imports them: coverage feedback
        import pydicom  # noqa: F401

        import engine.io  # noqa: F401
    from tests.fuzz.seeds import build_seeds
    from tests.fuzz.worker import run_case

    work = Path(tempfile.mkdtemp(prefix="candor-atheris-"))
    seeds = {s.name: s for s in build_seeds(work / "seeds")}
    seed = seeds[args.seed]
    if args.wrap:
        dest = CORPUS / _case(seed, args.wrap.read_bytes(), work).name
        shutil.copytree(work / dest.name, dest)
        print(dest)
        return 0
    seen = known_signatures(CORPUS)

    def one_input(data: bytes) -> None:
        case = _case(seed, data, work)
        result = run_case(case)
        if result["outcome"] in FAILURES:
            full = {**json.loads((case / "case.json").read_text()), **result}
            if save_case(case, full, CORPUS, seen):  # the first of its kind
                print(describe(full), flush=True)
        shutil.rmtree(case, ignore_errors=True)

    args.artifacts.mkdir(parents=True, exist_ok=True)
    start = work / "start"
    start.mkdir()
    shutil.copy(seed.folder / seed.target[0], start / seed.target[0])
    atheris.Setup([sys.argv[0], f"-artifact_prefix={args.artifacts}/", "-timeout=20",
                   "-rss_limit_mb=2048", *libfuzzer, str(start)], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
