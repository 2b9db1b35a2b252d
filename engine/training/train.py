"""Training loop for a segmentation network on generated cases (AdamW, Dice + cross-entropy).

Seeded end to end: the network initialisation, the case seeds and the patch choices come from
``TrainConfig.seed``; stopping is by step count and validation (never by wall time), so a run is
reproducible on the same software. MONAI (``train`` extra) provides the Dice+CE loss.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

# the one bf16 decision, shared with inference (FORCE_FLOAT32_ENV re-exported for the tests)
from engine.inference.precision import FORCE_FLOAT32_ENV, bf16_native  # noqa: F401
from engine.inference.predict import predict_probabilities
from engine.inference.sliding_window import SlidingWindowConfig
from engine.inference.preprocess import normalize
from engine.models.manifest import Normalization
from engine.models.unet import ResUNet3D
from engine.training.metrics import dice
from engine.synthesis.synth import SynthConfig, generate_case, sample_patch
from engine.synthesis.template import Template

log = logging.getLogger(__name__)

TRAIN_SEED_STRIDE = 1_000_000  # training case seeds: seed * stride + n
VAL_SEED_BASE = 500_000_000  # validation case seeds: base + n (never used for training)


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 1
    channels: tuple[int, ...] = (8, 16, 32, 64)
    dropout: float = 0.2
    dropout_stages: int = 2
    norm_groups: int = 4
    patch_size: tuple[int, int, int] = (48, 48, 48)
    batch_size: int = 2
    max_steps: int = 1000
    schedule_steps: int = 1000  # cosine horizon, independent of max_steps so a shorter run is a prefix
    warmup_steps: int = 20
    lr: float = 2e-3
    weight_decay: float = 1e-4
    lesion_fraction: float = 0.4  # share of patches centred on a lesion voxel
    class_weights: tuple[float, ...] | None = None  # Dice+CE class weights (None: equal)
    lambda_dice: float = 1.0  # weight of the Dice term (cross-entropy has weight 1)
    case_pool: int = 6
    refresh_every: int = 2
    val_cases: int = 6
    val_every: int = 100
    patience: int = 4
    num_classes: int = 4
    amp: str | None = None  # "bf16": bfloat16 autocast for the training passes (see bf16_autocast)
    synth: SynthConfig = field(default_factory=SynthConfig)
    normalization: Normalization = field(default_factory=Normalization)

    def architecture_params(self) -> dict:
        return {"channels": list(self.channels), "dropout": self.dropout, "dropout_stages": self.dropout_stages,
                "norm_groups": self.norm_groups}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["synth"] = asdict(self.synth)
        d["normalization"] = asdict(self.normalization)
        return d


@dataclass
class TrainResult:
    network: ResUNet3D
    history: list[dict]
    best_step: int
    best_score: float
    steps: int
    seconds: float
    bf16: bool = False  # whether the training passes ran under bfloat16 autocast


def make_case(seed: int, template: Template, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    case = generate_case(seed, template, cfg.synth)
    image, _ = normalize(case.image, cfg.normalization)
    return image, case.labels


def validation_score(net: ResUNet3D, cases: list[tuple[np.ndarray, np.ndarray]], cfg: TrainConfig) -> dict:
    sw = SlidingWindowConfig(cfg.patch_size, 0.5, 0.125, 2)
    per_class: dict[int, list[float]] = {c: [] for c in range(1, cfg.num_classes)}
    net.eval()
    for image, labels in cases:
        pred = predict_probabilities(image, [net], sw).argmax(0)
        for c in per_class:
            d = dice(pred, labels, c)
            if d is not None:
                per_class[c].append(d)
    means = {c: float(np.mean(v)) if v else 0.0 for c, v in per_class.items()}
    return {"dice": means, "score": float(np.mean(list(means.values())))}


def bf16_autocast(cfg: TrainConfig) -> bool:
    """Whether training passes run under bfloat16 autocast (weights, optimiser and loss stay float32).

    Asked for by ``cfg.amp == "bf16"`` and used only where the CPU has bf16 hardware: on this
    project's reference machine it halves a training step; elsewhere training falls back to float32
    (the result then differs from the shipped weights, and the run says so).
    """
    if cfg.amp is None:
        return False
    if cfg.amp != "bf16":
        raise ValueError(f"unknown amp mode {cfg.amp!r} (known: 'bf16')")
    if not bf16_native():
        log.warning("this CPU has no bfloat16 hardware: training in float32 (weights will differ from a bf16 run)")
        return False
    return True


def train_step(net: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn, x: torch.Tensor, y: torch.Tensor,
               bf16: bool) -> float:
    """One optimisation step (forward under bf16 autocast when ``bf16``, loss in float32); the loss."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = net(x)
    loss = loss_fn(logits.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.schedule_steps - cfg.warmup_steps)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _batch(rng: np.random.Generator, pool: list, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for _ in range(cfg.batch_size):
        image, lab = pool[rng.integers(len(pool))]
        x, y = sample_patch(rng, image, lab, cfg.patch_size, cfg.lesion_fraction)
        if rng.random() < 0.5:  # cheap extra augmentation: mirror along the left-right axis
            x, y = x[..., ::-1], y[..., ::-1]
        images.append(np.ascontiguousarray(x))
        labels.append(np.ascontiguousarray(y))
    return torch.from_numpy(np.stack(images)[:, None]), torch.from_numpy(np.stack(labels)[:, None].astype(np.int64))


def train(cfg: TrainConfig, template: Template, *, on_checkpoint: Callable[[ResUNet3D, dict], None] | None = None,
          init_state: dict[str, torch.Tensor] | None = None) -> TrainResult:
    """Train one network; ``init_state`` starts from given weights instead of a seeded initialisation."""
    from monai.losses import DiceCELoss

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = ResUNet3D(1, cfg.num_classes, **{**cfg.architecture_params(), "channels": tuple(cfg.channels)})
    if init_state is not None:
        net.load_state_dict(init_state)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weight = torch.tensor(cfg.class_weights, dtype=torch.float32) if cfg.class_weights else None
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True, weight=weight, lambda_dice=cfg.lambda_dice)
    val = [make_case(VAL_SEED_BASE + cfg.seed * 1000 + i, template, cfg) for i in range(cfg.val_cases)]
    counter = 0
    pool = []
    for _ in range(cfg.case_pool):
        pool.append(make_case(cfg.seed * TRAIN_SEED_STRIDE + counter, template, cfg))
        counter += 1
    history: list[dict] = []
    amp = bf16_autocast(cfg)
    best = {"score": -1.0, "step": 0, "state": None}
    start, stale, losses = time.perf_counter(), 0, []
    step = 0
    for step in range(1, cfg.max_steps + 1):
        if step % cfg.refresh_every == 0:
            pool[counter % cfg.case_pool] = make_case(cfg.seed * TRAIN_SEED_STRIDE + counter, template, cfg)
            counter += 1
        for group in opt.param_groups:
            group["lr"] = _lr_at(step - 1, cfg)
        net.train()
        x, y = _batch(rng, pool, cfg)
        losses.append(train_step(net, opt, loss_fn, x, y, amp))
        if step % 20 == 0:
            log.info("step %d loss %.4f (%.1f s/step, %d cases)", step, np.mean(losses[-20:]),
                     (time.perf_counter() - start) / step, counter)
        if step % cfg.val_every == 0 or step == cfg.max_steps:
            v = validation_score(net, val, cfg)
            entry = {"step": step, "loss": float(np.mean(losses[-cfg.val_every:])), **v,
                     "elapsed_s": time.perf_counter() - start}
            history.append(entry)
            log.info("validation at step %d: %s", step, entry)
            if v["score"] > best["score"]:
                best = {"score": v["score"], "step": step, "state": copy.deepcopy(net.state_dict())}
                stale = 0
                if on_checkpoint is not None:
                    on_checkpoint(net, entry)
            else:
                stale += 1
                if stale >= cfg.patience:
                    log.info("early stop at step %d (best %d)", step, best["step"])
                    break
    net.load_state_dict(best["state"])
    net.eval()
    return TrainResult(net, history, best["step"], best["score"], step, time.perf_counter() - start, amp)
