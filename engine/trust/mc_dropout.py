"""MC-Dropout and ensemble sampling per sliding-window patch, with a deterministic trunk computed once.

For each patch and each ensemble member the network's deterministic trunk (encoder and the decoder
up to the tail's first dropout layer, :meth:`ResUNet3D.forward_trunk`) runs once in eval mode; only
the short stochastic tail (:meth:`ResUNet3D.forward_tail`: dropout → last decoder stage(s) → head)
runs ``samples`` times with dropout on. Nothing of size T × volume is ever held: per patch the T
samples are summed into running sums (probabilities, entropies, logits), and the sliding window
blends those per-patch means like it blends logits.

The patch function returns, per patch (all ``(B, ·, *patch)``):

``probs``          mean softmax over all samples of all members (K channels)
``exp_entropy``    mean per-sample entropy (aleatoric part, 1 channel)
``energy``         −logsumexp of the mean logits (energy score, 1 channel)
``member_entropy`` mean over members of the entropy of each member's mean (only with ≥ 2 members;
                   ensemble disagreement = H[probs] − member_entropy)
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from engine.models.dropout import dropout_modules, mc_dropout
from engine.trust.entropy import entropy_torch


#: The measured choice (``bench/bench_trust.py``, docs/PERFORMANCE.md "Trust maps"): re-running only the
#: last decoder stage's dropout and the head keeps T = 10 within 3× one pass; two stages do not.
DEFAULT_TAIL_STAGES = 1


@dataclass(frozen=True)
class SamplingConfig:
    """How the stochastic predictions are drawn.

    ``samples``: MC-Dropout passes per member (T; ``1`` = deterministic, dropout off).
    ``tail_stages``: decoder stages the stochastic tail re-runs (``None``: the network's default,
    see ``bench/bench_trust.py`` for the measured choice). ``temperature``: calibrated softmax
    temperature (logits are divided by it). ``seed``: makes the dropout masks reproducible.
    """

    samples: int = 10
    tail_stages: int | None = None
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("samples must be at least 1")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")


def _has_split(net: nn.Module) -> bool:
    return hasattr(net, "forward_trunk") and hasattr(net, "forward_tail")


class MaskSampler:
    """Element-wise dropout masks from NumPy's PCG64, ~4× cheaper than torch's CPU dropout.

    Profiled on the default model (2 cores, 48³ patches, batch 2): the tail's dropout drew its
    3.5 M Bernoulli numbers in 27 ms of the tail's 29 ms (``torch.rand`` alone takes 13–16 ms, a
    1×1×1 head 0.4 ms), so MC-Dropout was RNG-bound. Here one uint16 per element from PCG64
    (3.6 ms) is compared with ``round(p · 65536)``: an element is dropped with probability
    ``round(p·65536)/65536`` (0.2 → 0.1999969), kept ones are scaled by ``1/(1 − p)`` as
    :class:`torch.nn.Dropout` does. Seeded, so a run repeats exactly; a channels-last input gets
    its mask in the same memory order (no layout conversion).
    """

    def __init__(self, seed: int) -> None:
        import numpy as np

        self._np = np
        self.rng = np.random.Generator(np.random.PCG64(int(seed)))

    def drop(self, x: torch.Tensor, p: float) -> torch.Tensor:
        if p <= 0.0:
            return x
        if p >= 1.0:
            return torch.zeros_like(x)
        threshold = int(round(p * 65536))
        channels_last = x.dim() == 5 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last_3d)
        shape = (x.shape[0], *x.shape[2:], x.shape[1]) if channels_last else tuple(x.shape)
        kept = self.rng.integers(0, 65536, size=shape, dtype=self._np.uint16) >= threshold
        mask = torch.from_numpy(kept)
        if channels_last:
            mask = mask.permute(0, 4, 1, 2, 3)
        return x.mul(mask.to(x.device)).mul_(1.0 / (1.0 - p))   # (masked_fill loses channels-last)


def _fast_dropout(net: nn.Module, features, sampler: MaskSampler | None):
    """The sampler's ``drop`` for the tail's first layer when it is a plain element-wise
    :class:`torch.nn.Dropout` on the CPU; else ``None`` (the layer itself runs)."""
    layer = net.tail_dropout(features) if sampler is not None and hasattr(net, "tail_dropout") else None
    if type(layer) is not nn.Dropout or features.x.device.type != "cpu":
        return None
    return lambda x: sampler.drop(x, float(layer.p))


def member_samples(net: nn.Module, batch: torch.Tensor, cfg: SamplingConfig,
                   sampler: MaskSampler | None = None):
    """Yield the logits of each stochastic sample of one member (trunk once, tail ``samples`` times;
    the tail's first dropout from ``sampler`` when given and applicable)."""
    # float32 logits: under the CPU fast path the convolutions may compute in bfloat16
    if cfg.samples <= 1 or not dropout_modules(net):
        yield net(batch).float()
        return
    if not _has_split(net):  # a foreign architecture: T full passes with dropout on
        with mc_dropout(net):
            for _ in range(cfg.samples):
                yield net(batch).float()
        return
    net.eval()
    features = net.forward_trunk(batch, tail_stages=cfg.tail_stages)
    fast = _fast_dropout(net, features, sampler)
    with mc_dropout(net):
        for _ in range(cfg.samples):
            yield (net.forward_tail(features, dropout=fast) if fast else net.forward_tail(features)).float()


class _Sums:
    """Running sums over samples: probabilities, Σ p·log p (negative entropy) and logits, in place."""

    def __init__(self) -> None:
        self.probs = self.neg_entropy = self.logits = None
        self.n = 0

    @property
    def entropy(self) -> torch.Tensor:
        return -self.neg_entropy

    def add(self, logits: torch.Tensor, temperature: float) -> None:
        logits = logits.float()
        if temperature != 1.0:
            logits = logits / temperature
        log_p = torch.log_softmax(logits, dim=1)
        p = log_p.exp()
        if self.probs is None:
            self.probs, self.logits = p.clone(), logits.clone()
            self.neg_entropy = p.mul_(log_p).sum(dim=1, keepdim=True)
        else:
            self.probs.add_(p)
            self.logits.add_(logits)
            self.neg_entropy.add_(p.mul_(log_p).sum(dim=1, keepdim=True))
        self.n += 1


def sampling_patch_fn(networks: Sequence[nn.Module], cfg: SamplingConfig, *, fast_masks: bool = True):
    """The per-patch function (see the module docstring) for :func:`engine.inference.sliding_window`.

    ``fast_masks``: the tail's first dropout from :class:`MaskSampler` (same law, ~4× cheaper);
    off, every mask comes from torch's RNG (then a seeded run draws exactly the masks T full
    passes would, which the tests use to prove the trunk/tail split exact)."""
    networks = list(networks)
    sampler = MaskSampler(cfg.seed) if fast_masks else None

    def fn(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        probs = entropy = logits = member_h = None
        n = 0
        for net in networks:
            sums = _Sums()
            for sample in member_samples(net, batch, cfg, sampler):
                sums.add(sample, cfg.temperature)
            if len(networks) > 1:
                h = entropy_torch(sums.probs / sums.n)
                member_h = h if member_h is None else member_h.add_(h)
            probs = sums.probs if probs is None else probs.add_(sums.probs)
            entropy = sums.entropy if entropy is None else entropy.add_(sums.entropy)  # Σ_s H[p_s]
            logits = sums.logits if logits is None else logits.add_(sums.logits)
            n += sums.n
        out = {"probs": probs.div_(n), "exp_entropy": entropy.div_(n),
               "energy": -torch.logsumexp(logits.div_(n), dim=1, keepdim=True)}
        if member_h is not None:
            out["member_entropy"] = member_h.div_(len(networks))
        return out

    return fn


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Fork the torch RNG (CPU, and the CUDA device in use) and seed it, so dropout masks repeat."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield
