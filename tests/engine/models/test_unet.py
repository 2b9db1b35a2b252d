import pytest
import torch
from torch import nn

from engine.models import ResUNet3D, mc_dropout


@pytest.mark.parametrize("channels,dropout_stages,shape", [
    ((4, 8), 1, (16, 16, 16)),
    ((4, 8, 16), 2, (16, 32, 24)),
    ((4, 8, 16, 32), 0, (16, 16, 16)),
])
def test_output_shape_and_groupnorm(channels, dropout_stages, shape):
    net = ResUNet3D(1, 3, channels, norm_groups=2, dropout=0.2, dropout_stages=dropout_stages).eval()
    out = net(torch.randn(2, 1, *shape))
    assert out.shape == (2, 3, *shape)
    kinds = {type(m) for m in net.modules()}
    assert nn.GroupNorm in kinds and not any(issubclass(k, nn.modules.batchnorm._BatchNorm) for k in kinds)
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == dropout_stages


@pytest.mark.parametrize("tail_stages", [1, 2, 3])
def test_trunk_plus_tail_equals_forward(tail_stages):
    torch.manual_seed(0)
    net = ResUNet3D(1, 4, (4, 8, 16, 32), norm_groups=2, dropout=0.5, dropout_stages=2).eval()
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        features = net.forward_trunk(x, tail_stages=tail_stages)
        assert features.stage == len(net.decoder) - tail_stages
        assert len(features.skips) == tail_stages - 1
        torch.testing.assert_close(net.forward_tail(features), net(x))


def test_mc_dropout_samples_only_dropout_and_restores_modes():
    torch.manual_seed(0)
    net = ResUNet3D(1, 3, (4, 8, 16), norm_groups=2, dropout=0.5, dropout_stages=2).eval()
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(x), net(x))  # eval: deterministic
        with mc_dropout(net):
            assert all(m.training for m in net.modules() if isinstance(m, nn.Dropout))
            assert not any(m.training for m in net.modules() if isinstance(m, nn.GroupNorm))
            features = net.forward_trunk(x)
            a, b = net.forward_tail(features), net.forward_tail(features)
            assert not torch.equal(a, b)
    assert not any(m.training for m in net.modules())
    net.train()
    with mc_dropout(net):
        pass
    assert all(m.training for m in net.modules())


def test_gradcam_layers_are_real_modules_whose_hooks_fire():
    net = ResUNet3D(1, 3, (4, 8, 16), norm_groups=2).eval()
    named = dict(net.named_modules())
    layers = net.gradcam_layers()
    assert net.default_gradcam_layer in layers and list(layers)[-1] == net.default_gradcam_layer
    seen = []
    for name, module in layers.items():
        assert named[name] is module
        module.register_forward_hook(lambda m, i, o, name=name: seen.append((name, o.shape)))
    net(torch.randn(1, 1, 16, 16, 16))
    assert [n for n, _ in seen] == ["encoder.2", "decoder.0.block", "decoder.1.block"]
    assert seen[-1][1] == (1, 4, 16, 16, 16)


def test_invalid_configuration_is_refused():
    with pytest.raises(ValueError):
        ResUNet3D(1, 2, (4, 8), dropout_stages=2)
    net = ResUNet3D(1, 2, (4, 8, 16), norm_groups=2)
    with pytest.raises(ValueError):
        net.forward_trunk(torch.randn(1, 1, 8, 8, 8), tail_stages=0)
