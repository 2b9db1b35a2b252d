"""extract_brain as engine work: cancellation and a plain error when the networks find no brain.

Tiny random LinkNet3D networks stand in for deepbet's (the pipeline runs for real on them)."""

import numpy as np
import pytest
import torch

from engine.errors import Cancelled, InputError
from engine.extraction import ExtractionModel, ExtractionParams, extract_brain
from engine.jobs import CancelToken
from engine.labels import LabelInfo, LabelTable
from engine.models.linknet import LinkNet3D
from engine.models.manifest import Architecture, Manifest
from engine.models.package import LoadedModel
from engine.volume import Geometry, Volume


def _model(background_bias: float) -> ExtractionModel:
    torch.manual_seed(0)
    nets = [LinkNet3D(1, 2, (4, 8, 8, 16)).eval() for _ in range(2)]
    for net in nets:  # push the output towards one class: 0 → no brain anywhere
        with torch.no_grad():
            net.tp_conv2.bias.copy_(torch.tensor([background_bias, 0.0]))
    manifest = Manifest(name="tiny-bet", version="0.0.1", task="brain-extraction", modality="MR",
                        labels=LabelTable([LabelInfo(1, "brain", (255, 200, 0))]),
                        architecture=Architecture("linknet3d", {"channels": [4, 8, 8, 16]}),
                        target_spacing=(1, 1, 1), patch_size=(64, 64, 64))
    params = ExtractionParams(bbox_shape=(64, 64, 64), shape=(64, 64, 64))
    return ExtractionModel(LoadedModel(manifest, (nets[0],)), nets[1], params)


def _volume() -> Volume:
    rng = np.random.default_rng(0)
    return Volume(rng.normal(100, 20, (40, 48, 44)).astype(np.float32),
                  Geometry((44, 48, 40), (1.2, 1.0, 1.5), (0, 0, 0)), "MR", warnings=["a carried warning"])


def test_no_brain_is_a_plain_error():
    with pytest.raises(InputError, match="no brain found"):
        extract_brain(_volume(), _model(background_bias=50.0))


def test_a_mask_on_the_input_grid_with_warnings_carried():
    volume = _volume()
    mask = extract_brain(volume, _model(background_bias=-50.0))
    assert mask.geometry == volume.geometry and mask.array.dtype == np.uint8
    assert mask.array.any() and mask.warnings == ["a carried warning"]


def test_cancel_stops_between_stages():
    cancel = CancelToken()
    stages = []

    def progress(fraction, stage):
        stages.append(stage)
        if stage == "extracting the brain":
            cancel.cancel()

    with pytest.raises(Cancelled):
        extract_brain(_volume(), _model(background_bias=-50.0), progress=progress, cancel=cancel)
    assert stages[-1] == "extracting the brain" and "cleaning the mask" not in stages
