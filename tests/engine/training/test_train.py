import numpy as np
import torch

from engine.models import load_model
from engine.models.manifest import Fingerprint
from engine.models.package import save_model
from engine.training import default_model as dm
from engine.synthesis.template import load_template
from engine.training.train import TrainConfig, _lr_at, train


def _tiny_config(**kw):
    return TrainConfig(channels=(4, 8), norm_groups=2, dropout_stages=1, patch_size=(16, 16, 16), max_steps=4,
                       val_every=2,
                       val_cases=1, case_pool=1, refresh_every=100, patience=5, **kw)


def test_tiny_training_run_is_seeded_and_keeps_the_best_state():
    template = load_template(4.0)
    saved = []
    a = train(_tiny_config(), template, on_checkpoint=lambda net, entry: saved.append(entry["step"]))
    b = train(_tiny_config(), template)
    assert [h["step"] for h in a.history] == [2, 4] and a.steps == 4
    assert saved and saved[0] == 2 and a.best_step in (2, 4)
    assert a.best_score == max(h["score"] for h in a.history)
    assert set(a.history[0]["dice"]) == {1, 2, 3}
    for (k, va), vb in zip(a.network.state_dict().items(), b.network.state_dict().values()):
        torch.testing.assert_close(va, vb, msg=k)  # same seed, same weights
    assert not a.network.training


def test_learning_rate_schedule_is_a_prefix_of_the_full_run():
    cfg = TrainConfig()
    short = TrainConfig(max_steps=300)
    assert [_lr_at(s, cfg) for s in range(300)] == [_lr_at(s, short) for s in range(300)]
    assert _lr_at(0, cfg) < _lr_at(cfg.warmup_steps, cfg)
    assert _lr_at(cfg.schedule_steps, cfg) < 0.05 * cfg.lr


def test_default_manifest_round_trip(tmp_path):
    cfg = _tiny_config()
    fp = dm.fingerprint(load_template(4.0), cfg, cases=2)
    assert fp.intensity_normalized["p50"] > fp.intensity_normalized["p01"]
    manifest = dm.build_manifest(cfg, 1, fp, {"members": {}}, {"dice": 0.5})
    assert manifest.target_spacing == (2.0, 2.0, 2.0) and manifest.num_classes == 4
    assert "Louis Collins" in manifest.license and manifest.labels.by_name("lesion").id == 3
    torch.manual_seed(0)
    from engine.models import build_network

    save_model(tmp_path / "pkg", manifest, [build_network(manifest)])
    loaded = load_model(tmp_path / "pkg")
    assert loaded.manifest.fingerprint == fp and isinstance(loaded.manifest.fingerprint, Fingerprint)
    assert np.isclose(loaded.manifest.validation["dice"], 0.5)


def test_bf16_autocast_training_is_seeded_and_reported():
    import pytest

    from engine.training.train import bf16_native

    template = load_template(4.0)
    a = train(_tiny_config(amp="bf16"), template)
    b = train(_tiny_config(amp="bf16"), template)
    assert a.bf16 == bf16_native()  # used only where the CPU computes bf16 in hardware
    for (k, va), vb in zip(a.network.state_dict().items(), b.network.state_dict().values()):
        assert va.dtype == torch.float32, k  # the weights stay float32; only the passes are bf16
        torch.testing.assert_close(va, vb, msg=k)
    with pytest.raises(ValueError, match="amp"):
        train(_tiny_config(amp="fp8"), template)


def test_force_float32_takes_the_float32_path_on_any_cpu(monkeypatch):
    """CI runs the suite once with CANDOR_FORCE_FLOAT32=1: the path of CPUs without bf16 hardware."""
    from engine.training.train import FORCE_FLOAT32_ENV, bf16_native

    monkeypatch.setenv(FORCE_FLOAT32_ENV, "1")
    assert not bf16_native()
    result = train(_tiny_config(amp="bf16"), load_template(4.0))
    assert not result.bf16
    monkeypatch.setenv(FORCE_FLOAT32_ENV, "0")
    native = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    assert bf16_native() == native


def test_default_model_normalisation_keeps_headroom_for_bright_lesions():
    from engine.training.train_default import DEFAULT_CONFIG

    assert DEFAULT_CONFIG.normalization.upper_headroom > 0 and DEFAULT_CONFIG.amp == "bf16"
