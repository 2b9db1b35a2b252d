"""The fuzz suite in CI: a few hundred seeded mutations of real files, and every regression case
in ``tests/fuzz/corpus/``, each in a worker process with a time and an address-space limit. Every
outcome must be a loaded volume, a stated warning or a clear CandorError (docs/RELIABILITY.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fuzz.harness import CORPUS, FAILURES, Limits, describe, fuzz, run_cases
from tests.fuzz.seeds import build_seeds
from tests.fuzz.worker import drive

CI_SEED = 20261202
CI_CASES = 1000
LIMITS = Limits(seconds=20.0, memory_mib=2048, workers=2)


def _message(failures: list[dict], what: str) -> str:
    lines = [describe(r) for r in failures[:40]]
    more = f"\n... and {len(failures) - 40} more" if len(failures) > 40 else ""
    return (f"{len(failures)} of the {what} ended {sorted({r['outcome'] for r in failures})} "
            "instead of loaded / warning / clear error. Rebuild one with\n"
            "  python -m tests.fuzz.run --seed SEED --case N --keep /tmp/case --no-save\n"
            + "\n".join(lines) + more)


def test_seeds_load_unmutated(tmp_path):
    """The seeds reach the decoders: unmutated, nearly all load (colour and frame-less multi-frame
    files are refused by design)."""
    seeds = build_seeds(tmp_path)
    outcomes = {s.name: drive(s.folder, s.kind, s.target[0])["outcome"] for s in seeds}
    assert len(seeds) >= 30, sorted(outcomes)
    assert all(o in ("loaded", "warning", "error") for o in outcomes.values()), outcomes
    loaded = [n for n, o in outcomes.items() if o in ("loaded", "warning")]
    assert len(loaded) >= 24, outcomes
    for name in ("series_rle", "series_j2k", "series_jpegls", "enhanced_rle", "enhanced_j2k",
                 "volume_nii_gz", "volume_nrrd", "volume_mhd", "volume_nhdr"):
        assert outcomes.get(name) in ("loaded", "warning"), (name, outcomes.get(name))


def test_mutated_inputs_are_all_handled(tmp_path):
    report = fuzz(CI_CASES, CI_SEED, LIMITS, work=tmp_path)
    assert len(report.results) == CI_CASES
    counts = report.counts()
    assert counts["loaded"] + counts["warning"] > CI_CASES // 5, counts  # not all refused early
    failures = report.failures()
    if failures:
        pytest.fail(_message(failures, f"{CI_CASES} fuzz cases (seed {CI_SEED})"), pytrace=False)


def test_corpus_cases_are_all_handled(tmp_path):
    cases = sorted(p for p in CORPUS.iterdir() if (p / "case.json").is_file())
    copies = []
    for case in cases:  # replayed from a copy: a loader must never touch the corpus
        shutil.copytree(case, tmp_path / case.name)
        copies.append(tmp_path / case.name)
    report = run_cases(copies, LIMITS)
    assert len(report.results) == len(cases)
    failures = [r for r in report.results if r["outcome"] in FAILURES]
    if failures:
        pytest.fail(_message(failures, f"{len(cases)} corpus cases"), pytrace=False)


def test_corpus_stays_small():
    files = [p for p in Path(CORPUS).rglob("*") if p.is_file()]
    assert all(p.stat().st_size < 100_000 for p in files)
    assert sum(p.stat().st_size for p in files) < 5_000_000
