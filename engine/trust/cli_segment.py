"""The trust layer's part of ``candor segment``: its options, one analysis pass, its outputs.

    --uncertainty UNC.nii.gz   uncertainty maps as one vector image (components: total, aleatoric,
                               epistemic[, disagreement]; nats), on the input geometry
    --saliency SAL.nii.gz      Grad-CAM of ``--target`` (values 0–1), on the input geometry
    --target LABEL             label id or name to explain
    --mc-samples T             MC-Dropout samples (default 10; 1 = deterministic)
    --roi MASK                 explain the label inside this region only (default: where it is predicted)
    --faithfulness             also run the deletion check of the saliency map

:func:`segment_with_trust` returns the same :class:`engine.inference.SegmentationResult` the plain
``segment()`` does (so the command writes mask, probabilities and report as before) plus the
report sections ``"ood"``, ``"uncertainty"``, ``"saliency"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.errors import InputError


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


def options_from_args(args: argparse.Namespace, model) -> "TrustOptions":
    from engine.trust.pipeline import TrustOptions

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
    return TrustOptions(roi=roi, mc_samples=args.mc_samples, use_ensemble=members > 1,
                        saliency_labels=(target,) if args.saliency else (),
                        saliency_layer=args.saliency_layer, faithfulness=bool(args.faithfulness and args.saliency),
                        seed=args.seed, device=args.device)


def segment_with_trust(args: argparse.Namespace, volume, model, progress=None):
    """One analysis pass → ``(SegmentationResult, {"ood", "uncertainty", "saliency"}, TrustResult)``."""
    from engine.inference.segment import SegmentationResult, probabilities_to_input_grid
    from engine.trust.pipeline import analyze

    result = analyze(volume, model, options_from_args(args, model), progress=progress)
    g = result.model_grid
    probs, labels = probabilities_to_input_grid(g.probs, g.grid, volume.geometry)
    label_volume = volume.with_array(labels, modality="SEG", warnings=list(volume.warnings))
    label_volume.metadata["label_table"] = result.table.to_list()
    m = model.manifest
    counts = np.bincount(labels.ravel(), minlength=len(m.labels) + 1)
    ml = volume.geometry.voxel_volume_ml
    from engine.inference.predict import resolve_device

    report = {
        "device": str(resolve_device(args.device)),
        "model": {"name": m.name, "version": m.version, "parent_version": m.parent_version,
                  "members_used": result.uncertainty["members"], "task": m.task},
        "labels": [{"id": i.id, "name": i.name, "color": list(i.color), "voxels": int(counts[i.id]),
                    "volume_ml": round(float(counts[i.id]) * ml, 3)} for i in m.labels],
        "warnings": list(volume.warnings) + result.ood.reasons,
        "timings": result.timings,
        "input": {"size": list(volume.size), "spacing": list(volume.spacing), "modality": volume.modality},
        "model_grid": {"size": list(g.grid.size), "spacing": list(g.grid.spacing)},
    }
    sections = {"ood": result.ood.to_dict(), "uncertainty": result.uncertainty, "saliency": result.explain}
    return SegmentationResult(label_volume, probs, m.labels, report), sections, result


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
