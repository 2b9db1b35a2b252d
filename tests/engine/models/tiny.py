"""A tiny real model package for tests (random weights, 2 ensemble members)."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.labels import LabelInfo, LabelTable
from engine.models import Architecture, InferenceSettings, Manifest, ResUNet3D, save_model

LABELS = LabelTable([LabelInfo(1, "Bright", (255, 0, 0)), LabelInfo(2, "Dark", (0, 0, 255))])


def tiny_manifest(members: int = 2, **changes) -> Manifest:
    base = Manifest(
        name="tiny-test", version="0.1.0", task="test segmentation", modality="MR", labels=LABELS,
        architecture=Architecture("resunet3d", {"channels": [4, 8], "dropout": 0.3, "dropout_stages": 1,
                                                "norm_groups": 2}),
        target_spacing=(2.0, 2.0, 2.0), patch_size=(16, 16, 16),
        inference=InferenceSettings(overlap=0.25, batch_size=2),
        members=tuple("weights.safetensors" if i == 0 else f"member-{i + 1}.safetensors" for i in range(members)),
    )
    return base.evolve(**changes) if changes else base


def tiny_networks(manifest: Manifest, seed: int = 0) -> list[ResUNet3D]:
    nets = []
    for i in range(len(manifest.members)):
        torch.manual_seed(seed + i)
        params = dict(manifest.architecture.params)
        nets.append(ResUNet3D(manifest.input_channels, manifest.num_classes, **params).eval())
    return nets


def write_tiny_package(folder: Path, members: int = 2, **changes) -> Path:
    manifest = tiny_manifest(members, **changes)
    return save_model(folder, manifest, tiny_networks(manifest))
