"""Import an nnU-Net v2 results folder (``dataset.json``, ``plans.json``, ``fold_*/checkpoint_final.pth``).

Each fold's checkpoint is read with ``torch.load(weights_only=True)`` and an explicit allow-list of
the few non-tensor globals nnU-Net's checkpoints hold (NumPy scalars and dtypes in its training
log); anything else in the pickle is refused and nothing in it runs. The result is a Candor
package: a manifest (architecture ``nnunet_v2``, the ``adapter`` section of
:class:`engine.models.nnunet.NnUNetAdapter`, labels from ``dataset.json``, a SHA-256 of every
source file) and one safetensors file per fold (folds = ensemble members).
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

from engine.errors import ModelError
from engine.models.importers import sha256_of

log = logging.getLogger(__name__)

CHECKPOINTS = ("checkpoint_final.pth", "checkpoint_best.pth")
_COLORS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212))


def _folds(source: Path) -> list[Path]:
    out = []
    for fold in sorted(source.glob("fold_*")):
        for name in CHECKPOINTS:
            if (fold / name).is_file():
                out.append(fold / name)
                break
    return out


def _is_results(folder: Path) -> bool:
    return folder.is_dir() and (folder / "dataset.json").is_file() and (folder / "plans.json").is_file() \
        and bool(_folds(folder))


def _zip_results(source: Path) -> list[str]:
    """Folders inside a zip that hold dataset.json + plans.json + fold_*/checkpoint (as TotalSegmentator ships)."""
    import zipfile

    if not (source.is_file() and zipfile.is_zipfile(source)):
        return []
    with zipfile.ZipFile(source) as zf:
        names = set(zf.namelist())
    roots = [n[: -len("plans.json")] for n in names if n.endswith("plans.json")]
    return sorted(r for r in roots if r + "dataset.json" in names and
                  any(n.startswith(r + "fold_") and n.rsplit("/", 1)[-1] in CHECKPOINTS for n in names))


def detect(source: Path) -> bool:
    source = Path(source)
    return _is_results(source) or bool(_zip_results(source))


def _extract(source: Path, root: str, into: Path) -> Path:
    """Extract one results folder of a zip into ``into``, refusing links and paths that leave it."""
    import zipfile

    into = into.resolve()
    with zipfile.ZipFile(source) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(root) or info.is_dir():
                continue
            target = (into / info.filename[len(root):]).resolve()
            if into not in target.parents or (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise ModelError(f"{source.name}: entry {info.filename!r} would leave the import folder; refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
    return into


def _safe_globals() -> list:
    import numpy as np

    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    dtypes = [getattr(np.dtypes, n) for n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType",
                                               "BoolDType") if hasattr(np.dtypes, n)]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *dtypes]


def read_checkpoint(path: Path) -> dict:
    """An nnU-Net checkpoint, restricted unpickler + the NumPy allow-list; anything else refused."""
    import torch

    try:
        with torch.serialization.safe_globals(_safe_globals()):
            ck = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError) as exc:
        log.debug("restricted load of %s refused: %s", path.name, exc)
        raise ModelError(f"{path.parent.name}/{path.name} holds Python objects outside the allow-list of an "
                         "nnU-Net checkpoint (tensors, plain containers, NumPy scalars); it may run code when "
                         "loaded, so Candor refuses to import it") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("network_weights"), dict):
        raise ModelError(f"{path.parent.name}/{path.name} is not an nnU-Net checkpoint (no network_weights)")
    return ck


def _labels(dataset: dict) -> tuple[list[dict], list | None, list | None]:
    """Candor labels 1..N from dataset.json (regions: one label per region, in regions_class_order)."""
    items = [(k, v) for k, v in dataset["labels"].items() if k != "ignore"]
    regions = [v for _, v in items if isinstance(v, (list, tuple))]
    if regions:
        named = [(k, v) for k, v in items if isinstance(v, (list, tuple))]
        labels = [{"id": i + 1, "name": k, "color": list(_COLORS[i % len(_COLORS)])} for i, (k, _) in enumerate(named)]
        return labels, [list(v) for _, v in named], list(dataset.get("regions_class_order") or [])
    ids = sorted((int(v), k) for k, v in items if int(v) > 0)
    if [i for i, _ in ids] != list(range(1, len(ids) + 1)):
        raise ModelError(f"dataset.json label ids must be 1..N without gaps, got {[i for i, _ in ids]}")
    return [{"id": i, "name": k, "color": list(_COLORS[(i - 1) % len(_COLORS)])} for i, k in ids], None, None


def _modality(dataset: dict) -> str:
    names = [str(v).upper() for v in (dataset.get("channel_names") or dataset.get("modality") or {}).values()]
    return "CT" if names and names[0] == "CT" else "MR"


def adapter_dict(plans: dict, configuration: str, fingerprint: dict | None, mirror_axes, regions, order) -> dict:
    cfg = plans["configurations"][configuration]
    if "inherits_from" in cfg:
        cfg = {**plans["configurations"][cfg["inherits_from"]], **cfg}
    props = plans.get("foreground_intensity_properties_per_channel") or \
        (fingerprint or {}).get("foreground_intensity_properties_per_channel") or {}
    data_kw = cfg.get("resampling_fn_data_kwargs") or {}
    prob_kw = cfg.get("resampling_fn_probabilities_kwargs") or {}
    return {"kind": "nnunet_v2", "configuration": configuration, "spacing": list(cfg["spacing"]),
            "patch_size": list(cfg["patch_size"]), "transpose_forward": list(plans["transpose_forward"]),
            "transpose_backward": list(plans["transpose_backward"]),
            "normalization_schemes": list(cfg["normalization_schemes"]),
            "use_mask_for_norm": [bool(v) for v in cfg["use_mask_for_norm"]],
            "intensity_properties": props,
            "resampling_data": {k: data_kw.get(k, d) for k, d in (("order", 3), ("order_z", 0),
                                                                  ("force_separate_z", None))},
            "resampling_probabilities": {k: prob_kw.get(k, d) for k, d in (("order", 1), ("order_z", 0),
                                                                           ("force_separate_z", None))},
            "mirror_axes": list(mirror_axes or ()), "tile_step_size": 0.5, "regions": regions,
            "regions_class_order": order}


def _architecture(plans: dict, configuration: str) -> dict:
    cfg = plans["configurations"][configuration]
    if "inherits_from" in cfg:
        cfg = {**plans["configurations"][cfg["inherits_from"]], **cfg}
    arch = cfg["architecture"]
    return {"name": "nnunet_v2", "params": {"network_class_name": arch["network_class_name"],
                                            "arch_kwargs": arch["arch_kwargs"],
                                            "kw_requires_import": list(arch.get("_kw_requires_import") or ())}}


def _fingerprint_section(fingerprint: dict | None, props: dict) -> dict:
    out: dict = {}
    if fingerprint and fingerprint.get("spacings"):
        sp = fingerprint["spacings"]     # nnU-Net array order (z, y, x) → Candor (x, y, z)
        out["spacing_min"] = [min(s[i] for s in sp) for i in (2, 1, 0)]
        out["spacing_max"] = [max(s[i] for s in sp) for i in (2, 1, 0)]
        out["cases"] = len(sp)
    p = props.get("0") or {}
    if p:
        out["intensity_raw"] = {k: float(v) for k, v in p.items()}
    return out


def _fingerprint_trust(props: dict) -> dict:
    """The input check the fingerprint backs: the intensity scale around the foreground's 99.5th percentile.

    Candor's ``intensity_scale`` check fires when the scan's upper level is more than a decade away
    (``scale_tolerance_decades``); the OOD score thresholds stay uncalibrated (no ``modes``).
    """
    top = float((props.get("0") or {}).get("percentile_99_5") or 0.0)
    if top <= 0:
        return {}
    return {"ood": {"intensity_upper_range": [top, top], "scale_tolerance_decades": 1.0},
            "calibrated_with": "nnU-Net dataset fingerprint (channel 0 foreground percentile_99_5); "
                               "OOD score thresholds not calibrated"}


def convert(source: Path, out_dir: Path, *, name: str | None = None, allow_torchscript: bool = False) -> Path:
    """Write a Candor package for the results folder (or zip of one) ``source`` under ``out_dir``; returns its folder.

    ``allow_torchscript`` is not needed: nnU-Net checkpoints are pickles, read with the restricted loader.
    """
    source = Path(source)
    roots = _zip_results(source)
    if roots:
        import tempfile

        if len(roots) > 1:
            raise ModelError(f"{source.name} holds {len(roots)} nnU-Net results folders; unzip it and import one")
        with tempfile.TemporaryDirectory(prefix="candor-nnunet-") as tmp:
            return _convert_folder(_extract(source, roots[0], Path(tmp)), out_dir, name, zip_name=source.name)
    return _convert_folder(source, out_dir, name)


def _convert_folder(source: Path, out_dir: Path, name: str | None, zip_name: str | None = None) -> Path:
    from engine.models.manifest import Manifest

    if not _is_results(source):
        raise ModelError(f"{source.name} is not an nnU-Net v2 results folder (dataset.json, plans.json, fold_*/)")
    dataset = json.loads((source / "dataset.json").read_text())
    plans = json.loads((source / "plans.json").read_text())
    fp_path = source / "dataset_fingerprint.json"
    fingerprint = json.loads(fp_path.read_text()) if fp_path.is_file() else None
    checkpoints = [(p, read_checkpoint(p)) for p in _folds(source)]
    first = checkpoints[0][1]
    configuration = str(first["init_args"]["configuration"])
    labels, regions, order = _labels(dataset)
    adapter = adapter_dict(plans, configuration, fingerprint, first.get("inference_allowed_mirroring_axes"),
                           regions, order)
    channels = len(dataset.get("channel_names") or dataset.get("modality") or {"0": ""})
    spacing = list(adapter["spacing"])
    spacing3 = spacing if len(spacing) == 3 else [1.0, *spacing]
    patch3 = adapter["patch_size"] if len(spacing) == 3 else [1, *adapter["patch_size"]]
    sources = {p.relative_to(source).as_posix(): sha256_of(p) for p in
               [source / "dataset.json", source / "plans.json", *[c for c, _ in checkpoints]]}
    pkg_name = name or f"{dataset.get('name', source.parent.name)}-{configuration}".lower().replace("_", "-")
    members = ["weights.safetensors", *[f"member-{i + 2}.safetensors" for i in range(len(checkpoints) - 1)]]
    manifest = Manifest.from_dict({
        "name": pkg_name, "version": "1.0.0", "task": str(dataset.get("description") or dataset.get("name") or
                                                          "nnU-Net v2 segmentation"),
        "modality": _modality(dataset), "input_channels": channels, "labels": labels,
        "architecture": _architecture(plans, configuration),
        "target_spacing": [float(spacing3[i]) for i in plans["transpose_backward"]][::-1],
        "patch_size": [int(v) for v in patch3], "members": members,
        "fingerprint": _fingerprint_section(fingerprint, adapter["intensity_properties"]),
        "license": str(dataset.get("licence") or dataset.get("license") or "unknown"),
        "training": {"source": {"format": "nnU-Net v2 results folder", "folder": zip_name or source.name,
                                "trainer": first.get("trainer_name"), "configuration": configuration,
                                "plans": plans.get("plans_name"), "folds": [c.parent.name for c, _ in checkpoints],
                                "sha256": sources}},
        "adapter": adapter, "trust": _fingerprint_trust(adapter["intensity_properties"]),
    })
    return _write(Path(out_dir), manifest, checkpoints)


def _write(out_dir: Path, manifest, checkpoints) -> Path:
    """Each fold's weights into the rebuilt network, then the package (written by ``write_package``)."""
    from engine.models.importers import write_package
    from engine.models.registry import build_network

    weights = {}
    for filename, (path, ck) in zip(manifest.members, checkpoints):
        net = build_network(manifest)
        try:
            net.load_state_dict(ck["network_weights"])
        except RuntimeError as exc:
            raise ModelError(f"{path.parent.name}: weights do not fit the plans' network ({str(exc)[:200]})") from None
        # dynamic_network_architectures shares the encoder's tensors with the decoder: one copy each
        weights[filename] = {k: v.detach().clone() for k, v in net.state_dict().items()}
    final = write_package(out_dir, manifest, weights, {"model": manifest.name, "source": "nnU-Net v2"})
    log.info("imported an nnU-Net v2 model (%d fold(s)) as %s", len(weights), manifest.name)
    return final
