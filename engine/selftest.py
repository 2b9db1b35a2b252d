"""The self-test: the whole product path on the bundled model and sample study, timed step by step.

``candor selftest`` (also ``Candor --selftest`` in the frozen app, and Help › Run Self-Test in the
viewer) loads the default model, writes the demo DICOM series to a temporary folder, reads it back,
segments it, computes uncertainty and saliency maps, and exports a NIfTI and a DICOM SEG, checking
each result for what a person would check (geometry, label volumes, finite maps, files readable).
It succeeds only if every step did.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CandorError
from engine.jobs import CancelToken, ProgressCallback, report

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class SelfTestResult:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def summary(self) -> str:
        """One line: verdict, then each step with its time (and the failure, if any)."""
        parts = [f"{s.name} {s.seconds:.1f}s" + ("" if s.ok else f" FAILED ({s.detail})")
                 for s in self.steps]
        total = sum(s.seconds for s in self.steps)
        verdict = "PASS" if self.ok else "FAIL"
        return f"candor self-test {verdict} in {total:.1f}s: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps": [s.__dict__ for s in self.steps]}


class _Context:
    """What the steps hand each other."""

    def __init__(self, workdir: Path, mc_samples: int) -> None:
        self.workdir = workdir
        self.mc_samples = mc_samples
        self.model = None
        self.series_dir: Path | None = None
        self.volume = None
        self.segmentation = None


def _step_model(ctx: _Context) -> str:
    from engine.models import DEFAULT_MODEL, load_model

    ctx.model = load_model(DEFAULT_MODEL)
    m = ctx.model.manifest
    return f"{m.name}@{m.version}, {len(ctx.model.members())} member(s)"


def _step_write_demo(ctx: _Context) -> str:
    from engine.demo import write_demo

    ctx.series_dir = write_demo(ctx.workdir / "demo" / "T1")
    n = len(list(ctx.series_dir.glob("*.dcm")))
    if n < 10:
        raise CandorError(f"the demo series has only {n} files")
    return f"{n} DICOM files"


def _step_read(ctx: _Context) -> str:
    from engine.io import load

    ctx.volume = load(ctx.series_dir)
    v = ctx.volume
    if v.modality != "MR" or min(v.size) < 10:
        raise CandorError(f"the demo series read back wrong: {v.modality} {v.size}")
    return "x".join(map(str, v.size))


def _step_segment(ctx: _Context) -> str:
    from engine.trust import SEGMENTATION, analyze

    ctx.segmentation = analyze(ctx.volume, ctx.model, SEGMENTATION)
    labels = ctx.segmentation.labels
    if not labels.geometry.is_close(ctx.volume.geometry):
        raise CandorError("the mask is not on the image's grid")
    volumes = {l["name"]: l["volume_ml"] for l in ctx.segmentation.label_report}
    if min(volumes.values()) <= 0:
        raise CandorError(f"a label is empty: {volumes}")
    return ", ".join(f"{k} {v:.0f} mL" for k, v in volumes.items())


def _step_trust(ctx: _Context) -> str:
    from engine.trust import AnalysisOptions, analyze

    table = ctx.model.manifest.labels
    target = table.by_name("lesion").id if any(l.name.lower() == "lesion" for l in table) else \
        next(iter(table)).id
    result = analyze(ctx.volume, ctx.model,
                     AnalysisOptions(mc_samples=ctx.mc_samples, saliency_labels=(target,)))
    for name, vol in {**result.maps, **{f"saliency {k}": v for k, v in result.saliency.items()}}.items():
        if not np.all(np.isfinite(vol.array)) or not vol.geometry.is_close(ctx.volume.geometry):
            raise CandorError(f"the {name} map is not finite or not on the image's grid")
    if not result.saliency:
        raise CandorError("no saliency map was computed")
    flag = "OOD flagged" if result.ood.flag else "in distribution"
    return f"{len(result.maps)} uncertainty maps, saliency, {flag}"


def _step_export(ctx: _Context) -> str:
    from engine.export import export_labels, import_seg, read_label_file

    table = ctx.segmentation.table
    nii = ctx.workdir / "mask.nii.gz"
    seg = ctx.workdir / "mask.dcm"
    export_labels(ctx.segmentation.labels, table, ctx.volume, nii)
    export_labels(ctx.segmentation.labels, table, ctx.volume, seg)
    back, _ = read_label_file(nii)
    if not np.array_equal(back.array, ctx.segmentation.labels.array):
        raise CandorError("the NIfTI export does not read back identically")
    imported = import_seg(seg, ctx.volume)
    if not np.array_equal(imported.labels.array > 0, ctx.segmentation.labels.array > 0):
        raise CandorError("the DICOM SEG export does not read back onto the image")
    return f"NIfTI {nii.stat().st_size // 1024} KiB, SEG {seg.stat().st_size // 1024} KiB"


STEPS: tuple[tuple[str, Callable[[_Context], str]], ...] = (
    ("load model", _step_model),
    ("write demo series", _step_write_demo),
    ("read series", _step_read),
    ("segment", _step_segment),
    ("uncertainty+saliency", _step_trust),
    ("export NIfTI+SEG", _step_export),
)


def run_selftest(workdir: str | Path | None = None, *, mc_samples: int = 4,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> SelfTestResult:
    """Run every step in order; a failed step stops the run (later steps need its output)."""
    result = SelfTestResult()
    with tempfile.TemporaryDirectory(prefix="candor-selftest-") as tmp:
        ctx = _Context(Path(workdir) if workdir else Path(tmp), mc_samples)
        for i, (name, step) in enumerate(STEPS):
            report(progress, cancel, i / len(STEPS), name)
            t0 = time.perf_counter()
            try:
                detail, ok = step(ctx), True
            except CandorError as exc:
                detail, ok = str(exc), False
            except Exception as exc:  # the self-test reports bugs instead of crashing
                log.exception("self-test step %r failed", name)
                detail, ok = f"internal error: {type(exc).__name__}: {exc}", False
            result.steps.append(StepResult(name, ok, time.perf_counter() - t0, detail))
            if not ok:
                break
        report(progress, cancel, 1.0, "done")
    return result
