"""The default model's training script, on a tiny configuration: plans, stages, members, resume."""

import torch

from engine.models import load_model
from engine.training import default_model as dm
from engine.training import train_default as td
from engine.synthesis.synth import SynthConfig
from engine.training.train import TrainConfig


def test_train_default_writes_an_ensemble_package_and_resumes(tmp_path, monkeypatch):
    tiny = TrainConfig(channels=(4, 8), norm_groups=2, dropout_stages=1, patch_size=(16, 16, 16), max_steps=2,
                       val_every=2, val_cases=1, case_pool=1, refresh_every=100)
    monkeypatch.setattr(td, "DEFAULT_CONFIG", tiny)
    monkeypatch.setattr(dm, "SPACING_MM", 4.0)
    lesion_focus = {"lesion_fraction": 0.9, "class_weights": (1, 1, 1, 5), "synth": SynthConfig(max_lesions=5)}
    monkeypatch.setattr(dm, "MEMBER_PLANS", {1: [{}, lesion_focus],
                                             2: [{"max_steps": 2}]})
    real_fingerprint = dm.fingerprint
    monkeypatch.setattr(dm, "fingerprint", lambda template, cfg: real_fingerprint(template, cfg, cases=1))
    out = tmp_path / "pkg"
    td.run(out, [1, 2], 2, threads=1)
    model = load_model(out)
    assert model.manifest.members == ("weights.safetensors", "member-2.safetensors")
    members = model.manifest.training["members"]
    assert [st["seed"] for st in members["1"]["stages"]] == [1, 101]
    assert members["1"]["stages"][1]["changes"]["synth"]["max_lesions"] == 5
    assert members["2"]["init_from_member"] == 1 and members["2"]["stages"][0]["seed"] == 2
    assert set(model.manifest.validation["training_validation"]) == {"1", "2"}
    assert (out / ".checkpoint-member-1-stage-2.safetensors").is_file()

    # Resuming stage 1 from its checkpoint and re-running stage 2 reproduces member 1 exactly.
    again = tmp_path / "again"
    td.run(again, [1], 1, threads=1, resume={(1, 1): out / ".checkpoint-member-1-stage-1.safetensors"})
    first, second = model.networks[0].state_dict(), load_model(again).network.state_dict()
    for key in first:
        torch.testing.assert_close(first[key], second[key], msg=key)
    assert load_model(again).manifest.training["members"]["1"]["stages"][0]["resumed_from_checkpoint"]
