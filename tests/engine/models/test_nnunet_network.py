"""The registry's nnunet_v2 builder against nnU-Net's own ``get_network_from_plans``."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
get_network_from_plans = pytest.importorskip("nnunetv2.utilities.get_network_from_plans").get_network_from_plans

RESENC = {  # the shape of nnU-Net's ResEnc presets (nnUNetResEncUNetMPlans), scaled down
    "network_class_name": "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
    "arch_kwargs": {"n_stages": 3, "features_per_stage": [8, 16, 32], "conv_op": "torch.nn.modules.conv.Conv3d",
                    "kernel_sizes": [[3, 3, 3]] * 3, "strides": [[1, 1, 1], [2, 2, 2], [2, 2, 2]],
                    "n_blocks_per_stage": [1, 2, 2], "n_conv_per_stage_decoder": [1, 1], "conv_bias": True,
                    "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
                    "norm_op_kwargs": {"eps": 1e-5, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
                    "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True}},
    "kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
}


def test_residual_encoder_unet_equals_nnunets_build():
    from engine.models.nnunet import build_nnunet_network

    theirs = get_network_from_plans(RESENC["network_class_name"], RESENC["arch_kwargs"],
                                    RESENC["kw_requires_import"], 1, 3, allow_init=True, deep_supervision=False)
    ours = build_nnunet_network(1, 3, **{k: v for k, v in RESENC.items()})
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.inference_mode():
        assert torch.equal(ours.eval()(x), theirs.eval()(x))
    assert ours.has_dropout is False
