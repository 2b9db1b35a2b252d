import json
import os

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.models import Manifest, find_model, list_models, load_model, save_model
from engine.models.weights import read_state_dict
from engine.resources import user_subdir
from tests.engine.models.tiny import tiny_manifest, tiny_networks, write_tiny_package


def test_manifest_json_round_trip(tmp_path):
    m = tiny_manifest(3, parent_version="0.0.9", validation={"dice": {"1": 0.9}}, trust={"temperature": 1.3})
    again = Manifest.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m
    assert again.num_classes == 3 and again.members[-1] == "member-3.safetensors"
    with pytest.raises(TypeError):
        again.trust["temperature"] = 2.0  # frozen


@pytest.mark.parametrize("broken,message", [
    ({"labels": [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}]}, "without gaps"),
    ({"target_spacing": [1, 1]}, "target_spacing"),
    ({"members": ["../evil.safetensors"]}, "plain file name"),
    ({"normalization": {"kind": "magic"}}, "unknown normalisation"),
    ({"name": ""}, "name is required"),
])
def test_malformed_manifest_is_a_clear_error(broken, message):
    d = tiny_manifest().to_dict() | broken
    with pytest.raises(ModelError, match=message):
        Manifest.from_dict(d)


def test_save_load_round_trip_with_ensemble_members(tmp_path):
    manifest = tiny_manifest(2)
    nets = tiny_networks(manifest)
    save_model(tmp_path / "pkg", manifest, nets)
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == [
        "manifest.json", "member-2.safetensors", "weights.safetensors"]
    model = load_model(tmp_path / "pkg")
    assert len(model.networks) == 2 and model.manifest == manifest
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        for ours, theirs in zip(model.networks, nets):
            torch.testing.assert_close(ours(x), theirs(x))
        assert not torch.equal(model.networks[0](x), model.networks[1](x))
    assert len(load_model(tmp_path / "pkg", members=1).networks) == 1


def test_labels_mismatch_is_reported_before_inference(tmp_path):
    write_tiny_package(tmp_path / "pkg", members=1)
    d = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    d["labels"].append({"id": 3, "name": "Extra", "color": [1, 2, 3]})
    (tmp_path / "pkg" / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(ModelError, match="predict 3 classes.*need 4"):
        load_model(tmp_path / "pkg")


def test_channel_mismatch_is_reported(tmp_path):
    write_tiny_package(tmp_path / "pkg", members=1)
    d = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    d["input_channels"] = 2
    (tmp_path / "pkg" / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(ModelError, match="1 input channels, the manifest says 2"):
        load_model(tmp_path / "pkg")


def test_missing_member_and_unknown_architecture(tmp_path):
    write_tiny_package(tmp_path / "pkg", members=2)
    (tmp_path / "pkg" / "member-2.safetensors").unlink()
    with pytest.raises(ModelError, match="member-2.safetensors is missing"):
        load_model(tmp_path / "pkg")
    d = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    d["architecture"]["name"] = "transformer9000"
    (tmp_path / "pkg" / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(ModelError, match="transformer9000"):
        load_model(tmp_path / "pkg", members=1)


class _Payload:
    """Unpickling this creates a directory: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_pickled_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "weights.pt"
    torch.save({"stem.0.weight": torch.zeros(1), "evil": _Payload(marker)}, path)
    with pytest.raises(ModelError, match="pickled Python objects"):
        read_state_dict(path)
    assert not marker.exists()
    # The package route refuses it too, without running it.
    write_tiny_package(tmp_path / "pkg", members=1)
    d = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    d["members"] = ["weights.pt"]
    (tmp_path / "pkg" / "manifest.json").write_text(json.dumps(d))
    (tmp_path / "pkg" / "weights.pt").write_bytes(path.read_bytes())
    with pytest.raises(ModelError, match="trust"):
        load_model(tmp_path / "pkg")
    assert not marker.exists()
    # The payload is real: with the explicit trust flag it runs (and the file is still no state dict).
    with pytest.raises(ModelError, match="not tensors"):
        read_state_dict(path, trust=True)
    assert marker.is_dir()


def test_plain_state_dict_pt_loads_weights_only(tmp_path):
    manifest = tiny_manifest(1)
    net = tiny_networks(manifest)[0]
    torch.save(net.state_dict(), tmp_path / "w.pth")
    state = read_state_dict(tmp_path / "w.pth")
    assert set(state) == set(net.state_dict())


def test_torchscript_needs_trust(tmp_path):
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    scripted.save(str(tmp_path / "model.pt"))
    with pytest.raises(ModelError, match="TorchScript"):
        read_state_dict(tmp_path / "model.pt")
    assert set(read_state_dict(tmp_path / "model.pt", trust=True)) == {"weight", "bias"}


def test_corrupt_safetensors_is_a_model_error(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ModelError, match="not a valid safetensors"):
        read_state_dict(tmp_path / "weights.safetensors")


def test_user_models_are_discovered_latest_version_first():
    root = user_subdir("models")
    write_tiny_package(root / "tiny-a", members=1)
    write_tiny_package(root / "tiny-b", members=1, version="0.2.0", parent_version="0.1.0")
    infos = [m for m in list_models() if m.name == "tiny-test"]
    assert {(m.version, m.source) for m in infos} == {("0.1.0", "user"), ("0.2.0", "user")}
    best = find_model("tiny-test")
    assert best.version == "0.2.0" and best.parent_version == "0.1.0"
    assert find_model("tiny-test@0.1.0").path.name == "tiny-a"
    assert load_model("tiny-test").manifest.version == "0.2.0"
    with pytest.raises(ModelError, match="no model named"):
        find_model("nope")
    assert np.all([m.to_dict()["path"] for m in infos])
