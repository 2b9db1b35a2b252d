"""The CPU fast path of inference: bfloat16 where the CPU computes it in hardware, channels-last 3D.

Measured on the demo head (197×233×189, one member of the default model, 2 cores of an AMD EPYC
with AVX512-BF16; ``bench/bench_analysis.py``, docs/PERFORMANCE.md): float32 5.7 s, channels-last
float32 3.9 s, bfloat16 autocast 2.5 s, both 1.9 s — with label agreement 0.9999 and Dice ≥ 0.999
per class against float32. On a CPU without bf16 hardware (emulated bf16 is slower than float32)
only the channels-last layout is used, and ``CANDOR_FORCE_FLOAT32=1`` takes that float32 path on
any CPU (CI runs the suite once so).

Only convolutions and matrix products run in bfloat16 (PyTorch's CPU autocast list); the networks'
outputs are cast back to float32 before any softmax, entropy or accumulation, and Grad-CAM forms
its map from float32 copies of the activation and its gradient: on the demo head its saliency
correlates 0.999999 with the float32 path's (max |difference| 0.003 on the [0, 1] map) and
Explain takes 3.9 s instead of 5.9 s.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import torch
from torch import nn

#: Set to 1 to take the float32 path on every CPU (CI runs the suite once this way, so a green run
#: means green on machines without bf16 hardware too).
FORCE_FLOAT32_ENV = "CANDOR_FORCE_FLOAT32"


def bf16_native() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX); emulated bf16 is slow.

    ``CANDOR_FORCE_FLOAT32=1`` answers no on any CPU.
    """
    if os.environ.get(FORCE_FLOAT32_ENV, "") not in ("", "0"):
        return False
    cpu = getattr(torch, "cpu", None)
    return bool(cpu and (cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported()))


def cpu_precision() -> str:
    """``"bfloat16"`` or ``"float32"``: what the CPU fast path computes convolutions in here."""
    return "bfloat16" if bf16_native() else "float32"


@contextlib.contextmanager
def cpu_fast_path(networks: Sequence[nn.Module], device: torch.device) -> Iterator[bool]:
    """On the CPU: the networks' 5-D weights in channels-last order for the run, restored after
    (a saved or fine-tuned model keeps its contiguous tensors). Yields whether the fast path is on
    (pass it to :func:`engine.inference.sliding_window.sliding_window` as ``fast``)."""
    if torch.device(device).type != "cpu":
        yield False
        return
    for net in networks:
        net.to(memory_format=torch.channels_last_3d)
    try:
        yield True
    finally:
        for net in networks:
            net.to(memory_format=torch.contiguous_format)


def fast_autocast(fast: bool, grad: bool = False):
    """bfloat16 autocast for a fast CPU pass (also Grad-CAM's, ``grad``) where the hardware has it."""
    if fast and bf16_native():
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fast_batch(batch: torch.Tensor, fast: bool) -> torch.Tensor:
    """A 5-D batch in channels-last order on the fast path (what the converted weights expect)."""
    if fast and batch.dim() == 5:
        return batch.contiguous(memory_format=torch.channels_last_3d)
    return batch
