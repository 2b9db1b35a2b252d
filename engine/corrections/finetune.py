"""Fine-tune the active model version on queued corrections, with safeguards.

1. Start from the active version of the model (transfer learning), every ensemble member.
2. Split the corrections by study into training and validation; train with AdamW, the base
   training's augmentation family and early stopping on the validation split. Against
   catastrophic forgetting, every batch also replays cases of the base distribution (shipped
   with the model, or made by its base training generator: ``finetune_rehearsal``), and epochs
   that lose Dice on held-out rehearsal cases are not chosen. The frozen regression set is
   never trained or selected on.
3. Evaluate before and after on the validation split (judged on the labels the corrections
   changed) and on the model's frozen regression set.
4. Refuse the new version if it does not improve the validation split or if Dice on the
   regression set drops by more than the tolerance; otherwise write it as a new package (``parent``
   = the version it came from, the corrections used, the metrics), make it active, and mark the
   corrections as used. The previous version stays installed: ``candor models use`` switches back.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from engine.corrections.finetune_data import (REGRESSION_DIR, REHEARSAL_DIR, load_regression_set,
                                              prepare, split_items, split_rehearsal)
from engine.corrections.finetune_rehearsal import rehearsal_pairs
from engine.corrections.finetune_train import (FinetuneConfig, evaluate, resolve_config, train_member,
                                              validation_score)
from engine.corrections.queue import CorrectionQueue
from engine.durable import replace_durably
from engine.errors import InputError
from engine.jobs import report, sub_progress
from engine.models.store import set_active
from engine.models.versions import next_version

log = logging.getLogger(__name__)


def _load_pairs(queue: CorrectionQueue, items: list, manifest, cancel) -> list:
    pairs = []
    for item in items:
        report(None, cancel, 0.0)
        c = queue.load(item.id)
        pairs.append(prepare(item.id, c.image, c.corrected, manifest, ai=c.ai))
    return pairs


@dataclass(frozen=True)
class FinetuneData:
    """What one fine-tuning reads at a site: the queued corrections it fits (split by study into
    training and validation), the frozen regression set, the rehearsal cases (replayed, held
    out) and the labels the corrections changed. Federated fine-tuning reads the same."""

    manifest: object
    items: list
    train_items: list
    val_items: list
    train: list
    val: list
    regression: list
    replay: list
    check: list
    rehearsal_source: str
    changed: frozenset


def prepare_data(loaded, cfg: FinetuneConfig, *, queue_root: Path | None = None, progress=None,
                 cancel=None) -> FinetuneData:
    """Read the queue, regression and rehearsal sets for fine-tuning ``loaded`` (InputError if
    the queue holds no correction for it)."""
    manifest = loaded.manifest
    report(progress, cancel, 0.0, "reading the corrections")
    with CorrectionQueue(queue_root) as queue:
        items = [i for i in queue.items() if _fits(i, manifest)]
        if not items:
            raise InputError(f"no queued corrections for {manifest.name} (labels 0..{len(manifest.labels)})")
        train_items, val_items = split_items(items, cfg.val_fraction, cfg.seed)
        train = _load_pairs(queue, train_items, manifest, cancel)
        val = _load_pairs(queue, val_items, manifest, cancel)
    regression = [prepare(n, image, labels, manifest)
                  for n, image, labels in load_regression_set(loaded.path)]
    report(progress, cancel, 0.02, "preparing the rehearsal cases")
    pairs, source = rehearsal_pairs(loaded, manifest, cfg.generated_rehearsal, seed=cfg.seed, cancel=cancel)
    replay, check = split_rehearsal(pairs, cfg.rehearsal_check_fraction)
    if not replay:
        log.warning("no rehearsal cases for %s: fine-tuning on the corrections alone", manifest.name)
    changed = frozenset(int(l["id"]) for i in items for l in i.stats.get("labels", [])
                        if l.get("added") or l.get("removed"))
    return FinetuneData(manifest, items, train_items, val_items, train, val, regression, replay,
                        check, source, changed)


def measure(nets: list, data: FinetuneData, device, cancel=None) -> dict:
    """Dice of ``nets`` on the validation split (the training corrections when there is none;
    judged on the changed labels) and on the frozen regression set: what :func:`verdict` compares."""
    return {"validation": evaluate(nets, data.val or data.train, data.manifest, device, cancel, data.changed),
            "regression": evaluate(nets, data.regression, data.manifest, device, cancel)}


def train_members(nets: list, data: FinetuneData, cfg: FinetuneConfig, device, *, progress=None,
                  cancel=None) -> list[dict]:
    """Fine-tune every ensemble member in place (rehearsal, edit-weighted loss, early stopping);
    returns their histories."""
    histories = []
    for m, net in enumerate(nets):
        span = sub_progress(progress, 0.1 + 0.8 * m / len(nets), 0.1 + 0.8 * (m + 1) / len(nets))
        histories.append(train_member(net, data.train, data.val, data.manifest, cfg, device,
                                      seed=cfg.seed + m, rehearsal=data.replay, check=data.check,
                                      labels=data.changed, progress=span, cancel=cancel))
    return histories


def write_package(loaded, networks, manifest, version: str, training: dict, validation: dict) -> Path:
    from engine.models.package import save_model
    from engine.resources import user_subdir

    new_manifest = manifest.evolve(version=version, parent_version=manifest.version,
                                   training=training, validation=validation)
    root = user_subdir("models")
    final = root / f"{manifest.name}-{version}"
    tmp = root / f".tmp-{manifest.name}-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(tmp, new_manifest, networks)
    for folder in (REGRESSION_DIR, REHEARSAL_DIR):  # the same frozen and rehearsal sets
        if loaded.path is not None and (loaded.path / folder).is_dir():
            shutil.copytree(loaded.path / folder, tmp / folder)
    replace_durably(tmp, final)  # every file flushed, then one rename
    return final


def finetune(model: str | None = None, config: FinetuneConfig | None = None, *, device: str = "cpu",
             queue_root: Path | None = None, progress=None, cancel=None) -> dict:
    """Fine-tune ``model`` (NAME or NAME@VERSION; default: the default model's active version)
    on every queued correction; returns the report (``accepted``, ``reason``, metrics…)."""
    from engine.inference.predict import resolve_device
    from engine.models.discovery import DEFAULT_MODEL, find_model, list_models
    from engine.models.package import load_model

    start = time.perf_counter()
    dev = resolve_device(device)
    info = find_model(model or DEFAULT_MODEL)
    loaded = load_model(info.path)
    manifest = loaded.manifest
    cfg = resolve_config(config or FinetuneConfig(), manifest)
    data = prepare_data(loaded, cfg, queue_root=queue_root, progress=progress, cancel=cancel)
    train_items, val_items, val = data.train_items, data.val_items, data.val
    replay, check, source = data.replay, data.check, data.rehearsal_source
    report(progress, cancel, 0.05, "evaluating the current version")
    nets = list(loaded.networks)
    before = measure(nets, data, dev, cancel)
    histories = train_members(nets, data, cfg, dev, progress=progress, cancel=cancel)
    report(progress, cancel, 0.9, "evaluating the fine-tuned version")
    after = measure(nets, data, dev, cancel)
    accepted, reason = verdict(before, after, cfg.tolerance)
    result = {
        "model": manifest.name, "base_version": manifest.version, "accepted": accepted,
        "reason": reason, "new_version": None, "device": str(dev),
        "corrections": {"train": [i.id for i in train_items], "validation": [i.id for i in val_items]},
        "metrics": {"validation_split": {"before": before["validation"], "after": after["validation"],
                                         "note": None if val else "no separate validation split: "
                                                                  "measured on the training corrections"},
                    "regression_set": {"before": before["regression"], "after": after["regression"],
                                       "tolerance": cfg.tolerance}},
        "rehearsal": {"source": source, "replayed": [p.name for p in replay],
                      "held_out": [p.name for p in check]},
        "training": {"config": cfg.to_dict(), "members": histories},
    }
    if accepted:
        version = next_version(manifest.version, {m.version for m in list_models() if m.name == manifest.name})
        training = {"fine_tuned_from": manifest.version, "corrections": result["corrections"],
                    "rehearsal": result["rehearsal"],
                    "config": cfg.to_dict(), "base_training": dict(manifest.training)}
        validation = {"before": before, "after": after, "base_validation": dict(manifest.validation)}
        path = write_package(loaded, nets, manifest, version, training, validation)
        set_active(manifest.name, version)
        with CorrectionQueue(queue_root) as queue:
            queue.mark_used(result["corrections"]["train"], manifest.name, version, "train")
            queue.mark_used(result["corrections"]["validation"], manifest.name, version, "val")
        result.update(new_version=version, path=str(path))
    result["seconds"] = round(time.perf_counter() - start, 1)
    if progress is not None:
        progress(1.0, "done")
    log.info("fine-tune of %s@%s: %s", manifest.name, manifest.version,
             "accepted" if accepted else "refused")
    return result


def _fits(item, manifest) -> bool:
    """Corrections whose labels the model has (other models' corrections are left alone)."""
    ids = {int(l["id"]) for l in item.stats.get("labels", [])}
    return ids <= {l.id for l in manifest.labels} and (
        item.model is None or item.model.get("name") == manifest.name)


def verdict(before: dict, after: dict, tolerance: float) -> tuple[bool, str]:
    v0, v1 = validation_score(before["validation"]), validation_score(after["validation"])
    r0, r1 = before["regression"]["dice_mean"], after["regression"]["dice_mean"]
    if r0 is not None and r1 is not None and r0 - r1 > tolerance:
        return False, (f"refused: Dice on the frozen regression set dropped from {r0:.3f} to {r1:.3f}, "
                       f"more than the {tolerance:.3f} allowed")
    if v1 is None or v0 is None or v1 <= v0:
        return False, (f"refused: no improvement on the corrections' validation split "
                       f"(Dice of the corrected labels {v0:.3f} before, {v1:.3f} after)")
    return True, (f"accepted: validation Dice of the corrected labels {v0:.3f} → {v1:.3f}; "
                  f"regression set {r0:.3f} → {r1:.3f} (within the {tolerance:.3f} tolerance)")
