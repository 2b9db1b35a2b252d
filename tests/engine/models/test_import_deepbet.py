"""``candor models import deepbet``: TorchScript refused unless allowed, tensors checked, package safe."""

import hashlib
import importlib.metadata as md
import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.cli import main
from engine.errors import ModelError
from engine.models import load_model
from engine.models.importers import find_importer, import_model
from engine.models.linknet import LinkNet3D

pytest.importorskip("deepbet")


def _wheel_files() -> dict[str, Path]:
    dist = md.distribution("deepbet")
    return {f.name: Path(str(dist.locate_file(f))) for f in dist.files
            if f.name in ("model.pt", "bbox_model.pt", "LICENSE")}


def test_refused_without_allow_torchscript(candor_home, capsys):
    assert main(["models", "import", "deepbet"]) == 2
    assert "--allow-torchscript" in capsys.readouterr().err
    assert not any((candor_home / "models").glob("deepbet*"))


def test_import_writes_a_safetensors_package_with_its_provenance(candor_home, capsys):
    assert main(["models", "import", "deepbet", "--allow-torchscript", "--json"]) == 0
    folder = Path(json.loads(capsys.readouterr().out)["path"])
    assert folder.parent == candor_home / "models"
    assert sorted(p.name for p in folder.iterdir()) == ["bbox.safetensors", "manifest.json", "weights.safetensors"]
    model = load_model("deepbet")  # safetensors only: no TorchScript at run time
    m = model.manifest
    files = _wheel_files()
    record = m.training["import"]
    assert (m.task, m.modality, m.version) == ("brain-extraction", "MR", md.version("deepbet"))
    for name in ("model.pt", "bbox_model.pt"):
        assert record["files"][name]["sha256"] == hashlib.sha256(files[name].read_bytes()).hexdigest()
    copyright_line = next(ln.strip() for ln in files["LICENSE"].read_text().splitlines() if ln.startswith("Copyright"))
    assert m.license.startswith("MIT") and copyright_line in m.license
    assert "Fisch" in record["citation"] and "deepbet" in record["citation"]
    assert max(record["equivalence"]["max_abs_diff"].values()) <= 1e-5
    scripted = torch.jit.load(str(files["model.pt"]), map_location="cpu").eval()
    x = torch.rand(1, 1, 64, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert float((scripted(x) - model.network(x)).abs().max()) <= 1e-5


def test_a_folder_with_the_two_archives_is_detected(tmp_path):
    files = _wheel_files()
    for name in ("model.pt", "bbox_model.pt"):
        shutil.copyfile(files[name], tmp_path / name)
    assert find_importer(tmp_path).__name__.endswith("deepbet")
    assert find_importer(tmp_path / "model.pt").__name__.endswith("deepbet")


class _Shifted(LinkNet3D):
    """The right tensors behind a different program: the output check must catch it."""

    def forward(self, x):
        return super().forward(x).flip(1)


class _Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def _plant(folder: Path, bad: nn.Module) -> None:
    folder.mkdir()
    x = torch.rand(1, 1, 64, 64, 64)
    good = torch.jit.trace(LinkNet3D().eval(), x)
    torch.jit.save(good, str(folder / "bbox_model.pt"))
    torch.jit.save(torch.jit.trace(bad.eval(), x), str(folder / "model.pt"))


@pytest.mark.parametrize("bad,message", [(_Other(), "not the deepbet network"), (_Shifted(), "differs")])
def test_unexpected_archives_are_refused(tmp_path, bad, message):
    _plant(tmp_path / "src", bad)
    with pytest.raises(ModelError, match=message):
        import_model(tmp_path / "src", tmp_path / "out", allow_torchscript=True)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
