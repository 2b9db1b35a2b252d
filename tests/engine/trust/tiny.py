"""A tiny random ResUNet3D model package for tests of the trust layer's mechanics (not its quality)."""

from __future__ import annotations

import torch

from engine.labels import LabelInfo, LabelTable
from engine.models import Architecture, Fingerprint, Manifest, ResUNet3D, save_model

TINY_ARCH = {"channels": [4, 8, 16], "dropout": 0.3, "dropout_stages": 2, "norm_groups": 2}


def tiny_manifest(members: int = 2, **changes) -> Manifest:
    base = dict(name="tiny", version="0.1", task="test", modality="MR", body_part="BRAIN",
                labels=LabelTable([LabelInfo(1, "Alpha", (255, 0, 0)), LabelInfo(2, "Beta", (0, 255, 0))]),
                architecture=Architecture("resunet3d", TINY_ARCH), target_spacing=(2.0, 2.0, 2.0),
                patch_size=(16, 16, 16), fingerprint=Fingerprint((0.5, 0.5, 0.5), (5.0, 5.0, 5.0)),
                members=tuple("weights.safetensors" if i == 0 else f"member-{i + 1}.safetensors"
                              for i in range(members)))
    base.update(changes)
    return Manifest(**base)


def save_tiny_model(folder, members: int = 2, seed: int = 0, **changes):
    torch.manual_seed(seed)
    manifest = tiny_manifest(members, **changes)
    nets = [ResUNet3D(1, 3, channels=(4, 8, 16), dropout=0.3, dropout_stages=2, norm_groups=2)
            for _ in range(members)]
    return save_model(folder, manifest, nets)
