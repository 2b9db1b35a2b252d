"""``candor models import`` of an nnU-Net v2 results folder built by nnunetv2 itself (tests/peers)."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from tests.peers.fixtures import nnunet_results  # noqa: F401  (pytest fixture)
from tests.peers.nnunet_folder import FOLDS

torch = pytest.importorskip("torch")


def test_import_writes_a_safetensors_package_with_the_adapter(nnunet_results, tmp_path):  # noqa: F811
    from engine.models import load_model
    from engine.models.importers.nnunet import convert, detect

    assert detect(nnunet_results) and not detect(tmp_path)
    folder = convert(nnunet_results, tmp_path, name="nn-test", allow_torchscript=False)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "member-2.safetensors", "weights.safetensors"]
    from engine.errors import InputError

    with pytest.raises(InputError, match="already in"):          # never overwritten in place
        convert(nnunet_results, tmp_path, name="nn-test", allow_torchscript=False)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temp folder left behind
    manifest = json.loads((folder / "manifest.json").read_text())
    plans = json.loads((nnunet_results / "plans.json").read_text())
    cfg = plans["configurations"]["3d_fullres"]
    ad = manifest["adapter"]
    assert ad["kind"] == "nnunet_v2" and ad["configuration"] == "3d_fullres"
    assert ad["spacing"] == cfg["spacing"] and ad["patch_size"] == cfg["patch_size"]
    assert ad["normalization_schemes"] == cfg["normalization_schemes"]
    assert ad["use_mask_for_norm"] == cfg["use_mask_for_norm"]
    assert ad["intensity_properties"] == plans["foreground_intensity_properties_per_channel"]
    assert ad["mirror_axes"] == [0, 1, 2] and ad["transpose_forward"] == plans["transpose_forward"]
    assert [(lab["id"], lab["name"]) for lab in manifest["labels"]] == [(1, "sphere"), (2, "box")]
    assert manifest["license"] == "CC0-1.0" and manifest["modality"] == "MR"
    sha = manifest["training"]["source"]["sha256"]
    for rel, digest in sha.items():
        assert hashlib.sha256((nnunet_results / rel).read_bytes()).hexdigest() == digest
    assert len(sha) == 2 + len(FOLDS)
    # Each member holds exactly its fold's weights (read here with nnU-Net's own full unpickling).
    model = load_model(folder)
    assert len(model.networks) == len(FOLDS)
    for net, fold in zip(model.networks, FOLDS):
        ck = torch.load(nnunet_results / f"fold_{fold}" / "checkpoint_final.pth", weights_only=False)
        state = net.state_dict()
        assert all(torch.equal(state[k], v) for k, v in ck["network_weights"].items())


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.mkdir, (str(self.marker),))


def test_checkpoint_outside_the_allow_list_is_refused_and_never_runs(nnunet_results, tmp_path):  # noqa: F811
    from engine.errors import ModelError
    from engine.models.importers.nnunet import convert

    source = tmp_path / "results"
    shutil.copytree(nnunet_results, source)
    marker = tmp_path / "payload-ran"
    ck_path = source / "fold_1" / "checkpoint_final.pth"
    ck = torch.load(ck_path, weights_only=False)
    ck["logging"]["planted"] = _Payload(marker)
    torch.save(ck, ck_path)
    with pytest.raises(ModelError, match="outside the allow-list"):
        convert(source, tmp_path / "out", name="nn-bad", allow_torchscript=False)
    assert not marker.exists() and not (tmp_path / "out").exists()
    torch.load(ck_path, weights_only=False)          # the payload is real: full unpickling runs it
    assert marker.is_dir()


def test_architecture_outside_the_allow_list_is_refused(nnunet_results, tmp_path):  # noqa: F811
    from engine.errors import ModelError
    from engine.models.importers.nnunet import convert

    source = tmp_path / "results"
    shutil.copytree(nnunet_results, source)
    plans = json.loads((source / "plans.json").read_text())
    plans["configurations"]["3d_fullres"]["architecture"]["network_class_name"] = "os.system"
    (source / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(ModelError, match="allow-list"):
        convert(source, tmp_path / "out", name="nn-bad")
    plans["configurations"]["3d_fullres"]["architecture"]["network_class_name"] = \
        "dynamic_network_architectures.architectures.unet.PlainConvUNet"
    plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]["nonlin"] = "builtins.eval"
    (source / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(ModelError, match="allow-list"):
        convert(source, tmp_path / "out", name="nn-bad")


def _zip(folder, zip_path, prefix, extra=()):
    import zipfile

    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
        for name, data in extra:
            zf.writestr(name, data)
    return zip_path


def test_zip_of_a_results_folder_imports_like_the_folder(nnunet_results, tmp_path):  # noqa: F811
    """The zips TotalSegmentator and others distribute: the results folder somewhere inside."""
    from engine.models import load_model
    from engine.models.importers import find_importer
    from engine.models.importers import nnunet as importer

    prefix = f"{nnunet_results.parent.name}/{nnunet_results.name}/"
    archive = _zip(nnunet_results, tmp_path / "weights.zip", prefix)
    assert importer.detect(archive) and find_importer(archive) is importer
    folder = importer.convert(archive, tmp_path / "out", name="nn-zip", allow_torchscript=False)
    plain = importer.convert(nnunet_results, tmp_path / "plain", name="nn-zip", allow_torchscript=False)
    zipped, direct = load_model(folder), load_model(plain)
    for a, b in zip(zipped.networks, direct.networks):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert json.loads((folder / "manifest.json").read_text())["training"]["source"]["folder"] == "weights.zip"


def test_zip_entry_leaving_the_folder_is_refused(nnunet_results, tmp_path):  # noqa: F811
    from engine.errors import ModelError
    from engine.models.importers.nnunet import convert

    prefix = "X/"
    archive = _zip(nnunet_results, tmp_path / "evil.zip", prefix, extra=[(prefix + "../../escaped.txt", b"x")])
    with pytest.raises(ModelError, match="leave the import folder"):
        convert(archive, tmp_path / "out", name="nn-evil")
    assert not list(tmp_path.rglob("escaped.txt"))
