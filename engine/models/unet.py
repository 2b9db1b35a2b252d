"""A small 3-D U-Net: residual encoder, GroupNorm, skip connections, dropout in the decoder.

Written in plain torch (not MONAI blocks) so that the shipped weights' key names depend only on
this file, never on a third-party library's internal layout (see docs/ARCHITECTURE.md).

Layout (``L = len(channels)`` levels, ``D = L - 1`` decoder stages)::

    stem → encoder.0 … encoder.{L-1} (encoder.{L-1} is the bottleneck)
         → decoder.0 (deepest) … decoder.{D-1} (full resolution) → head (1×1×1 conv → logits)

Each decoder stage is ``up`` (transposed conv) → concat skip → ``block`` (two conv-GN-act) →
``drop`` (element-wise dropout in the last ``dropout_stages`` stages, identity elsewhere).

The split for Monte-Carlo dropout: :meth:`ResUNet3D.forward_trunk` runs everything up to the first
dropout layer of the last ``tail_stages`` stages once; :meth:`ResUNet3D.forward_tail` runs the
short stochastic rest (dropout → remaining stages → head) and can be called T times on the same
:class:`TrunkFeatures`. ``forward(x) == forward_tail(forward_trunk(x))`` always.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels)


class ConvNormAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, groups: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
            _norm(cout, groups),
            nn.LeakyReLU(0.01, inplace=True),
        )


class ResidualBlock(nn.Module):
    """conv-GN-act → conv-GN, plus a (projected) identity, then act."""

    def __init__(self, cin: int, cout: int, groups: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(cin, cout, groups, stride)
        self.conv2 = nn.Sequential(nn.Conv3d(cout, cout, 3, padding=1, bias=False), _norm(cout, groups))
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), _norm(cout, groups))
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.skip(x))


class DecoderStage(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.up = nn.ConvTranspose3d(cin, cout, 2, stride=2)
        self.block = nn.Sequential(ConvNormAct(cout + cskip, cout, groups), ConvNormAct(cout, cout, groups))
        self.drop: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def features(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Everything but the dropout (``up`` and ``block`` are called as modules, so hooks fire)."""
        return self.block(torch.cat([self.up(x), skip], dim=1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.drop(self.features(x, skip))


@dataclass
class TrunkFeatures:
    """What :meth:`ResUNet3D.forward_trunk` hands to :meth:`ResUNet3D.forward_tail`.

    ``x`` is the pre-dropout output of decoder stage ``stage``; ``skips`` are the encoder outputs the
    remaining stages still need, in the order they consume them.
    """

    x: torch.Tensor
    skips: list[torch.Tensor]
    stage: int


class ResUNet3D(nn.Module):
    """Residual-encoder U-Net with GroupNorm and decoder dropout (architecture ``"resunet3d"``)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 2,
                 channels: tuple[int, ...] = (8, 16, 32, 64), norm_groups: int = 4,
                 dropout: float = 0.2, dropout_stages: int = 2) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 2:
            raise ValueError("a U-Net needs at least two levels")
        decoder_stages = len(channels) - 1
        if not 0 <= dropout_stages <= decoder_stages:
            raise ValueError(f"dropout_stages must be in 0..{decoder_stages}")
        self.channels = channels
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.dropout_stages = int(dropout_stages)
        self.stem = ConvNormAct(in_channels, channels[0], norm_groups)
        self.encoder = nn.ModuleList(
            [ResidualBlock(channels[0], channels[0], norm_groups)]
            + [ResidualBlock(channels[i - 1], channels[i], norm_groups, stride=2) for i in range(1, len(channels))]
        )
        first_drop = decoder_stages - self.dropout_stages
        self.decoder = nn.ModuleList(
            DecoderStage(channels[-1 - s], channels[-2 - s], channels[-2 - s], norm_groups,
                         dropout if s >= first_drop else 0.0)
            for s in range(decoder_stages)
        )
        self.head = nn.Conv3d(channels[0], out_channels, 1)

    # Shapes --------------------------------------------------------------------------------
    @property
    def size_divisor(self) -> int:
        """Patch sides must be multiples of this (one halving per level below the top)."""
        return 2 ** (len(self.channels) - 1)

    @property
    def default_tail_stages(self) -> int:
        return max(self.dropout_stages, 1)

    # Forward passes ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.forward_trunk(x))

    def forward_trunk(self, x: torch.Tensor, tail_stages: int | None = None) -> TrunkFeatures:
        """The deterministic part: encoder and the decoder up to the tail's first dropout layer.

        ``tail_stages`` (default: the stages that carry dropout, at least 1) is how many of the last
        decoder stages the tail re-runs; dropout layers left in the trunk are sampled only once.
        """
        n_tail = self.default_tail_stages if tail_stages is None else int(tail_stages)
        if not 1 <= n_tail <= len(self.decoder):
            raise ValueError(f"tail_stages must be in 1..{len(self.decoder)}")
        skips = []
        x = self.stem(x)
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        skips.reverse()  # deepest skip first, the order the decoder consumes them
        split = len(self.decoder) - n_tail
        for s in range(split):
            x = self.decoder[s](x, skips[s])
        x = self.decoder[split].features(x, skips[split])
        return TrunkFeatures(x, skips[split + 1:], split)

    def tail_dropout(self, features: TrunkFeatures) -> nn.Module:
        """The dropout layer :meth:`forward_tail` starts with."""
        return self.decoder[features.stage].drop

    def forward_tail(self, features: TrunkFeatures, dropout=None) -> torch.Tensor:
        """The stochastic part: dropout of stage ``features.stage``, the remaining stages, the head.

        ``dropout`` replaces that first dropout layer's call (a callable with the same law, e.g.
        :class:`engine.trust.mc_dropout.MaskSampler`'s faster masks); later stages keep their own."""
        x = (dropout or self.decoder[features.stage].drop)(features.x)
        for offset, skip in enumerate(features.skips, start=features.stage + 1):
            x = self.decoder[offset](x, skip)
        return self.head(x)

    # Explainability ------------------------------------------------------------------------
    def gradcam_layers(self) -> OrderedDict[str, nn.Module]:
        """Named layers for Grad-CAM, coarsest first; the names are ``named_modules()`` paths."""
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers[f"encoder.{len(self.encoder) - 1}"] = self.encoder[-1]
        for s, stage in enumerate(self.decoder):
            layers[f"decoder.{s}.block"] = stage.block
        return layers

    @property
    def default_gradcam_layer(self) -> str:
        """A late decoder layer: the full-resolution stage's conv block."""
        return f"decoder.{len(self.decoder) - 1}.block"
