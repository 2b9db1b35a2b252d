"""The trust layer's part of ``candor segment``: its options, one analysis pass, its outputs.

    --uncertainty UNC.nii.gz   uncertainty maps as one vector image (components: total, aleatoric,
                               epistemic[, disagreement]; nats), on the input geometry
    --saliency SAL.nii.gz      Grad-CAM of ``--target`` (values 0–1), on the input geometry
    --target LABEL             label id or name to explain
    --mc-samples T             MC-Dropout samples (default 10; 1 = deterministic)
    --roi MASK                 explain the label inside this region only (default: where it is predicted)
    --faithfulness             also run the deletion check of the saliency map

:func:`analyze_for_cli` runs the one analysis (:func:`engine.trust.analyze`, probabilities on the
input grid only when ``--probabilities`` asks for them); :func:`cli_report` and
:func:`write_outputs` only turn its :class:`engine.trust.AnalysisResult` into the report and files.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InputError

if TYPE_CHECKING:
    from engine.trust.options import AnalysisOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("trust: why, how sure, whether to trust it")
    g.add_argument("--uncertainty", metavar="UNC", help="write the uncertainty maps (vector image, nats)")
    g.add_argument("--saliency", metavar="SAL", help="write the Grad-CAM saliency map of --target")
    g.add_argument("--target", metavar="LABEL", help="label id or name for --saliency")
    g.add_argument("--saliency-layer", metavar="LAYER", default=None,
                   help="network layer for Grad-CAM (default: the last decoder stage)")
    g.add_argument("--roi", metavar="MASK", help="explain only this region: a mask file (non-zero voxels; any grid "
                   "in the scan's patient space), e.g. a box drawn in the viewer and exported")
    g.add_argument("--faithfulness", action="store_true", help="run the deletion check of the saliency map")
    g.add_argument("--mc-samples", type=int, default=10, metavar="T",
                   help="MC-Dropout samples per member (default 10; 1 = no MC dropout)")
    g.add_argument("--seed", type=int, default=0, help="seed of the dropout masks (default 0)")


def resolve_target(target: str | None, table) -> int | None:
    if target is None:
        return None
    for info in table:
        if target.strip().isdigit() and int(target) == info.id or target.strip().lower() == info.name.lower():
            return info.id
    names = ", ".join(f"{i.id} ({i.name})" for i in table)
    raise InputError(f"--target {target!r} is not a label of this model (labels: {names})")


def options_from_args(args: argparse.Namespace, model) -> AnalysisOptions:
    from engine.trust.options import MAP_KEYS, AnalysisOptions

    if args.mc_samples < 1:
        raise InputError("--mc-samples must be at least 1")
    target = resolve_target(args.target, model.manifest.labels)
    if args.saliency and target is None:
        raise InputError("--saliency needs --target LABEL (a label id or name)")
    members = len(model.networks) if args.members is None else args.members
    roi = None
    if getattr(args, "roi", None):
        from engine.io import load

        roi = load(args.roi)
    return AnalysisOptions(roi=roi, mc_samples=args.mc_samples, use_ensemble=members > 1,
                           saliency_labels=(target,) if args.saliency else (),
                           saliency_layer=args.saliency_layer, faithfulness=bool(args.faithfulness and args.saliency),
                           seed=args.seed, device=args.device, maps=MAP_KEYS if args.uncertainty else (),
                           probabilities=bool(getattr(args, "probabilities", None)),
                           refuse_unsuitable=not getattr(args, "force", False))


def analyze_for_cli(args: argparse.Namespace, volume, model, progress=None):
    """The one analysis pass for ``candor segment`` → :class:`engine.trust.AnalysisResult`."""
    from engine.trust.analysis import analyze

    return analyze(volume, model, options_from_args(args, model), progress=progress)


def cli_report(result, volume) -> dict:
    """The ``--report`` JSON (without ``outputs``), every key read from the analysis result."""
    g = result.model_grid
    return {
        "device": result.device,
        "model": result.model,
        "labels": result.label_report,
        "warnings": list(result.warnings),
        "timings": result.timings,
        "input": {"size": list(volume.size), "spacing": list(volume.spacing), "modality": volume.modality},
        "model_grid": {"size": list(g.size), "spacing": list(g.spacing)},
        "ood": result.ood.to_dict(), "uncertainty": result.uncertainty, "saliency": result.explain,
    }


def write_outputs(args: argparse.Namespace, trust_result) -> dict[str, str]:
    """Write --uncertainty / --saliency; returns ``{"uncertainty": path, …}`` for the report."""
    out = {}
    if args.uncertainty:
        keys = [k for k in ("total", "aleatoric", "epistemic", "disagreement") if k in trust_result.maps]
        stack = np.stack([trust_result.maps[k].array for k in keys])
        from engine.io.formats import write_vector_image

        out["uncertainty"] = str(write_vector_image(stack, trust_result.labels.geometry, args.uncertainty))
        out["uncertainty_components"] = keys
    if args.saliency:
        from engine.io import write_image

        (vol,) = trust_result.saliency.values()
        write_image(vol, args.saliency)
        out["saliency"] = str(args.saliency)
    return out
