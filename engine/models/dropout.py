"""Switch dropout on at test time for Monte-Carlo sampling, everything else stays in eval mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

_DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def dropout_modules(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, _DROPOUT_TYPES)]


@contextmanager
def mc_dropout(net: nn.Module) -> Iterator[nn.Module]:
    """``with mc_dropout(net): ...`` — dropout layers sample, norms and the rest run in eval mode.

    The previous training flag of every module is restored on exit, even after an exception.
    """
    previous = {m: m.training for m in net.modules()}
    try:
        net.eval()
        for m in dropout_modules(net):
            m.train()
        yield net
    finally:
        for m, flag in previous.items():
            m.train(flag)
