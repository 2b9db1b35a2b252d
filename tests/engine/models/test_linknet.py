"""LinkNet3D: shapes on tiny widths, and deepbet's own TorchScript archives as the oracle."""

import importlib.metadata as md
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.models.linknet import LinkNet3D
from engine.models.registry import ARCHITECTURES


@pytest.mark.parametrize("channels,shape", [((4, 8, 8, 16), (64, 64, 32)), ((8, 8, 16, 16), (64, 32, 32))])
def test_output_is_a_probability_map_of_the_input_size(channels, shape):
    torch.manual_seed(0)
    net = LinkNet3D(1, 2, channels).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 1, *shape))
    assert out.shape == (2, 2, *shape)
    torch.testing.assert_close(out.sum(1), torch.ones(2, *shape))
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm3d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    assert ARCHITECTURES["linknet3d"] is LinkNet3D


def test_bad_widths_are_refused():
    with pytest.raises(ValueError, match="four widths"):
        LinkNet3D(1, 2, (16, 32, 64))


def _archives() -> dict[str, Path]:
    pytest.importorskip("deepbet")
    dist = md.distribution("deepbet")
    return {f.name: Path(str(dist.locate_file(f))) for f in dist.files if f.name.endswith(".pt")}


@pytest.mark.parametrize("archive", ["model.pt", "bbox_model.pt"])
def test_deepbet_archive_tensors_map_one_to_one_and_outputs_match(archive):
    scripted = torch.jit.load(str(_archives()[archive]), map_location="cpu").eval()
    state = scripted.state_dict()
    net = LinkNet3D().eval()
    assert len(state) == 38
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    x = torch.rand(1, 1, 64, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = scripted(x), net(x)
    assert float(want[:, 1].std()) > 1e-3  # a real prediction, not a constant
    assert float((want - got).abs().max()) <= 1e-5
