"""The fine-tuning loop and its evaluation: AdamW, Dice + cross-entropy, early stopping."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.corrections.finetune_data import Pair, augment_raw, normalize_with, sample_patch
from engine.inference.predict import predict_probabilities, window_config
from engine.jobs import report
from engine.models.manifest import Manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings: a small learning rate (the weights are already good), weight decay,
    early stopping after ``patience`` epochs without a better validation Dice."""

    epochs: int = 10
    steps_per_epoch: int = 20
    batch_size: int = 2
    lr: float = 1e-4  # about 1/20 of the base training rate: adapt, do not forget
    weight_decay: float = 1e-4
    anchor: float = 0.0  # L2-SP: pull towards the starting weights (keeps what the model knew)
    patience: int = 6  # a corrected error often takes a few epochs to start moving
    #: share of patches given the base training's intensity augmentation; None: the share the
    #: model's own training recorded (:func:`augment_probability_of`), else 0.8. Augmenting more
    #: than the base training did shifts the intensities the model learnt from, and the shift
    #: shows as forgetting (over-segmented boundaries of what it already knew).
    augment_probability: float | None = None
    focus_fraction: float = 0.6
    val_fraction: float = 0.25
    edit_weight: float = 4.0  # cross-entropy weight of the voxels the person changed (+ margin)
    edit_margin: int = 1  # voxels around the edits that count as edited
    rehearsal_per_batch: int = 2  # base-distribution cases replayed in every batch (if shipped)
    generated_rehearsal: int = 8  # cases made by the base generator when the package ships none
    rehearsal_check_fraction: float = 0.34  # rehearsal cases held out to detect forgetting
    forgetting_guard: float | None = None  # epochs losing more Dice on them are not chosen (None: tolerance)
    tolerance: float = 0.02  # largest allowed drop of mean Dice on the regression set
    schedule: str = "cosine"  # learning rate over the planned steps: "cosine" (after a warm-up) or "constant"
    warmup_fraction: float = 0.1  # of the planned steps, rising linearly to ``lr``
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_AUGMENT_PROBABILITY = 0.8


def augment_probability_of(manifest: Manifest) -> float | None:
    """The augmentation share the model's training recorded: ``training.augment_probability``
    (a base training) or ``training.config.augment_probability`` (a fine-tuned version)."""
    training = manifest.training or {}
    for value in (training.get("augment_probability"), (training.get("config") or {}).get("augment_probability")):
        if isinstance(value, (int, float)) and 0.0 <= value <= 1.0:
            return float(value)
    return None


def resolve_config(cfg: FinetuneConfig, manifest: Manifest) -> FinetuneConfig:
    """``cfg`` with the settings it leaves to the model (``augment_probability``) filled in."""
    if cfg.augment_probability is not None:
        return cfg
    recorded = augment_probability_of(manifest)
    return replace(cfg, augment_probability=DEFAULT_AUGMENT_PROBABILITY if recorded is None else recorded)


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy (voxel-weighted by ``weight`` if given) plus (1 − soft Dice of the
    foreground classes), over the batch."""
    if weight is None:
        ce = F.cross_entropy(logits, target)
    else:
        ce = (F.cross_entropy(logits, target, reduction="none") * weight).sum() / weight.sum()
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 4, 1, 2, 3).to(probs.dtype)
    dims = (0, 2, 3, 4)
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + 1e-5) / (denom + 1e-5)
    return ce + (1.0 - dice[1:].mean())


def case_dice(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> dict[int, float]:
    """Dice per label present in the truth or the prediction."""
    out = {}
    for c in range(1, num_classes):
        p, t = pred == c, truth == c
        total = int(p.sum()) + int(t.sum())
        if total:
            out[c] = 2.0 * int(np.logical_and(p, t).sum()) / total
    return out


def evaluate(networks: list[nn.Module], pairs: list[Pair], manifest: Manifest, device,
             cancel=None, labels: frozenset[int] | None = None) -> dict:
    """Mean Dice (over labels, then cases) of the ensemble on ``pairs``, with per-label means;
    with ``labels`` (those the corrections changed), also ``dice_corrected`` over those only."""
    if not pairs:
        return {"cases": 0, "dice_mean": None, "dice_corrected": None, "per_label": {}}
    cfg = window_config(manifest)
    per_case, per_label, focused = [], {}, []
    for pair in pairs:
        probs = predict_probabilities(pair.normalized(manifest.normalization), networks, cfg,
                                      device=device, cancel=cancel)
        scores = case_dice(np.argmax(probs, axis=0), pair.labels, manifest.num_classes)
        for label, value in scores.items():
            per_label.setdefault(manifest.labels.get(label).name, []).append(value)
        per_case.append(float(np.mean(list(scores.values()))) if scores else 1.0)
        if labels:
            chosen = [v for k, v in scores.items() if k in labels]
            focused.append(float(np.mean(chosen)) if chosen else 1.0)
    return {"cases": len(pairs), "dice_mean": round(float(np.mean(per_case)), 5),
            "dice_corrected": round(float(np.mean(focused)), 5) if focused else None,
            "per_label": {k: round(float(np.mean(v)), 5) for k, v in per_label.items()}}


def _batch(rng: np.random.Generator, pairs: list[Pair], manifest: Manifest, cfg: FinetuneConfig,
           rehearsal: list[Pair] = ()):
    """``batch_size`` correction patches plus ``rehearsal_per_batch`` replayed base cases."""
    images, labels, weights = [], [], []
    chosen = [pairs[rng.integers(len(pairs))] for _ in range(cfg.batch_size)]
    if rehearsal:
        chosen += [rehearsal[rng.integers(len(rehearsal))] for _ in range(cfg.rehearsal_per_batch)]
    for pair in chosen:
        raw, lab, edited = sample_patch(rng, pair, manifest.patch_size, cfg.focus_fraction,
                                        pair.edited(cfg.edit_margin))
        if rng.random() < (DEFAULT_AUGMENT_PROBABILITY if cfg.augment_probability is None
                           else cfg.augment_probability):
            raw = augment_raw(rng, raw, pair.stats.upper)
        x = normalize_with(raw, pair.stats, manifest.normalization)
        w = np.where(edited, cfg.edit_weight, 1.0).astype(np.float32)
        if rng.random() < 0.5:  # mirror left-right, as the base training does
            x, lab, w = x[..., ::-1], lab[..., ::-1], w[..., ::-1]
        images.append(np.ascontiguousarray(x))
        labels.append(np.ascontiguousarray(lab))
        weights.append(np.ascontiguousarray(w))
    return (torch.from_numpy(np.stack(images)[:, None]),
            torch.from_numpy(np.stack(labels).astype(np.int64)), torch.from_numpy(np.stack(weights)))


def learning_rate(cfg: FinetuneConfig, step: int) -> float:
    """The learning rate of optimisation step ``step`` (0-based) of ``epochs * steps_per_epoch``.

    Cosine decay after a linear warm-up: the late epochs, the ones the selector usually picks,
    take small steps, so their weights settle where both the corrections and the replayed cases
    fit instead of jumping between the two (at a constant rate the epoch-to-epoch noise decides
    which epoch passes the forgetting guard, and so the result depended on the CPU's rounding).
    """
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {cfg.schedule!r} (known: 'cosine', 'constant')")
    total = cfg.epochs * cfg.steps_per_epoch
    warmup = max(1, round(cfg.warmup_fraction * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t)))


def validation_score(metrics: dict) -> float | None:
    """What the corrections' validation split is judged on: Dice of the labels they changed
    (a mean over every label would let tissue classes hide a worse corrected class)."""
    return metrics["dice_mean"] if metrics.get("dice_corrected") is None else metrics["dice_corrected"]


class _Selector:
    """Chooses the epoch: best Dice on the corrections' validation split among epochs that lose
    at most ``guard`` Dice on the held-out rehearsal cases (the starting weights always qualify)."""

    def __init__(self, net, monitor, check, manifest, device, guard, cancel, labels=None):
        self.monitor, self.check, self.manifest, self.device = monitor, check, manifest, device
        self.labels = labels
        self.guard, self.cancel = guard, cancel
        self.best, self.check0 = self._scores(net)
        self.best_state, self.best_epoch = copy.deepcopy(net.state_dict()), 0
        self.top = self.best  # best validation Dice of any epoch: early stopping watches it

    def _scores(self, net) -> tuple[float, float | None]:
        val = validation_score(evaluate([net], self.monitor, self.manifest, self.device, self.cancel,
                                        self.labels))
        check = (evaluate([net], self.check, self.manifest, self.device, self.cancel)["dice_mean"]
                 if self.check else None)
        return val, check

    def offer(self, net, epoch: int) -> dict:
        """Score ``net`` after ``epoch``; keep its weights if they are the best so far."""
        val, check = self._scores(net)
        kept = check is None or self.check0 - check <= self.guard
        if kept and val > self.best + 1e-6:
            self.best, self.best_state, self.best_epoch = val, copy.deepcopy(net.state_dict()), epoch
        improved = val > self.top + 1e-6
        self.top = max(self.top, val)
        return {"val_dice": val, "rehearsal_dice": check, "eligible": kept, "improved": improved}


def train_member(net: nn.Module, train: list[Pair], val: list[Pair], manifest: Manifest,
                 cfg: FinetuneConfig, device, *, seed: int, rehearsal: list[Pair] = (),
                 check: list[Pair] = (), labels: frozenset[int] | None = None, progress=None,
                 cancel=None) -> dict:
    """Fine-tune ``net`` in place, replaying ``rehearsal`` cases in every batch; it ends with the
    weights :class:`_Selector` chose (``check``: held-out rehearsal cases). Returns the history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = [p.detach().clone() for p in net.parameters()]
    net.eval()
    guard = cfg.tolerance if cfg.forgetting_guard is None else cfg.forgetting_guard
    sel = _Selector(net, val or train, list(check), manifest, device, guard, cancel, labels)
    history = [{"epoch": 0, "val_dice": sel.best, "rehearsal_dice": sel.check0}]
    stale = 0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        losses = []
        for step in range(cfg.steps_per_epoch):
            report(progress, cancel, ((epoch - 1) + step / cfg.steps_per_epoch) / cfg.epochs,
                   f"fine-tuning, epoch {epoch}/{cfg.epochs}")
            for group in opt.param_groups:
                group["lr"] = learning_rate(cfg, (epoch - 1) * cfg.steps_per_epoch + step)
            x, y, w = _batch(rng, train, manifest, cfg, rehearsal)
            loss = dice_ce_loss(net(x.to(device)), y.to(device), w.to(device))
            if cfg.anchor > 0:
                loss = loss + cfg.anchor * sum(((p - p0) ** 2).sum() for p, p0 in zip(net.parameters(), start))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        net.eval()
        scores = sel.offer(net, epoch)
        history.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 5), **scores})
        log.info("fine-tune epoch %d: loss %.4f, validation Dice %.4f, rehearsal Dice %s",
                 epoch, np.mean(losses), scores["val_dice"], scores["rehearsal_dice"])
        stale = 0 if scores["improved"] else stale + 1
        if stale >= cfg.patience:
            log.info("early stop after epoch %d (best epoch %d)", epoch, sel.best_epoch)
            break
    net.load_state_dict(sel.best_state)
    net.eval()
    return {"history": history, "best_epoch": sel.best_epoch, "best_val_dice": sel.best}
