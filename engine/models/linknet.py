"""``LinkNet3D``: deepbet's brain-extraction network rebuilt as a plain module (no TorchScript).

The layout and every tensor name follow deepbet's traced archives (``model.pt`` and
``bbox_model.pt``, 38 tensors each) one to one, so their state dicts load unchanged:

* ``init``: 7³ convolution, stride 2 (no bias) → InstanceNorm → ReLU → 3³ max-pool, stride 2;
* ``down0``…``down3``: two residual ``Block``s each (3³ conv → IN → ReLU → 3³ conv → IN, plus the
  input, or its 1×1×1 stride-2 conv + IN when the shape changes, then ReLU); stride 1 for
  ``down0``, 2 for the others;
* ``up3``…``up0``: LinkNet decoders (1×1×1 conv to in/4 → transposed 3³ conv, stride 2 (``up3``:
  stride 1) → 1×1×1 conv to the output width; each followed by IN and ReLU), added to the skip;
* head: transposed 3³ conv stride 2 (bias) → IN → ReLU → 3³ conv (bias) → IN → ReLU → transposed
  2³ conv stride 2 (bias) → softmax over channels.

Every InstanceNorm is ``affine=False`` without running statistics (the traced graph calls
``instance_norm`` with no weight, bias or running buffers). The output is a probability map (the
softmax is part of the network, as in deepbet), at the input's size for sides divisible by 32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _norm(channels: int) -> nn.InstanceNorm3d:
    return nn.InstanceNorm3d(channels, affine=False, track_running_stats=False)


def _conv_norm_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, _norm(channels), nn.ReLU(inplace=True))


class Block(nn.Module):
    """Residual block: two 3³ convolutions with InstanceNorm, a projected shortcut when needed."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv3d(in_ch, out_ch, 3, stride, 1, bias=False), _norm(out_ch), nn.ReLU(inplace=True),
            nn.Conv3d(out_ch, out_ch, 3, 1, 1, bias=False), _norm(out_ch))
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv3d(in_ch, out_ch, 1, stride, 0, bias=False), _norm(out_ch))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.act(self.double_conv(x) + residual)


class Down(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.block1 = Block(in_ch, out_ch, stride)
        self.block2 = Block(out_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block2(self.block1(x))


class Up(nn.Module):
    """LinkNet decoder: squeeze to in/4, transposed convolution, expand to ``out_ch``."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        mid = in_ch // 4
        self.conv1 = _conv_norm_relu(nn.Conv3d(in_ch, mid, 1, bias=False), mid)
        self.tp_conv = _conv_norm_relu(
            nn.ConvTranspose3d(mid, mid, 3, stride, 1, output_padding=stride - 1, bias=False), mid)
        self.conv2 = _conv_norm_relu(nn.Conv3d(mid, out_ch, 1, bias=False), out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.tp_conv(self.conv1(x)))


class LinkNet3D(nn.Module):
    """deepbet's LinkNet3D; ``channels`` are the four encoder widths (deepbet: 16, 32, 64, 128)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 2,
                 channels: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        c = [int(v) for v in channels]
        if len(c) != 4 or any(v < 4 or v % 4 for v in c):
            raise ValueError(f"channels must be four widths divisible by 4, got {list(channels)}")
        self.init = nn.Sequential(nn.Conv3d(in_channels, c[0], 7, 2, 3, bias=False), _norm(c[0]),
                                  nn.ReLU(inplace=True), nn.MaxPool3d(3, 2, 1))
        self.down0 = Down(c[0], c[0], 1)
        self.down1 = Down(c[0], c[1], 2)
        self.down2 = Down(c[1], c[2], 2)
        self.down3 = Down(c[2], c[3], 2)
        self.up0 = Up(c[3], c[2], 2)
        self.up1 = Up(c[2], c[1], 2)
        self.up2 = Up(c[1], c[0], 2)
        self.up3 = Up(c[0], c[0], 1)
        head = c[0] // 2
        self.tp_conv1 = _conv_norm_relu(nn.ConvTranspose3d(c[0], head, 3, 2, 1, output_padding=1), head)
        self.conv = _conv_norm_relu(nn.Conv3d(head, head, 3, 1, 1), head)
        self.tp_conv2 = nn.ConvTranspose3d(head, out_channels, 2, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.init(x)
        e0 = self.down0(x0)
        e1 = self.down1(e0)
        e2 = self.down2(e1)
        d = self.up0(self.down3(e2)) + e2
        d = self.up1(d) + e1
        d = self.up2(d) + e0
        d = self.up3(d) + x0
        return torch.softmax(self.tp_conv2(self.conv(self.tp_conv1(d))), dim=1)
