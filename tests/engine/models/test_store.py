"""ModelStore: one place for installed packages, active versions, weight hashes and loaded models."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
import torch

from engine.errors import ModelError
from engine.models.store import ModelStore, set_active, weights_hash
from engine.models.versions import ACTIVE_FILE, next_version
from engine.resources import user_subdir
from tests.engine.models.tiny import write_tiny_package


@pytest.fixture
def two_versions():
    root = user_subdir("models")
    a = write_tiny_package(root / "tiny-a", members=1)
    b = write_tiny_package(root / "tiny-b", members=1, version="0.2.0", parent_version="0.1.0")
    return a, b


def test_available_find_and_active_version(two_versions):
    store = ModelStore()
    assert {(m.name, m.version) for m in store.available() if m.name == "tiny-test"} == {
        ("tiny-test", "0.1.0"), ("tiny-test", "0.2.0")}
    assert store.active_version("tiny-test") == "0.2.0"          # latest when none recorded
    store.set_active("tiny-test", "0.1.0")
    assert store.active_version("tiny-test") == "0.1.0"
    assert store.find("tiny-test").path == two_versions[0]
    record = json.loads((user_subdir("models") / ACTIVE_FILE).read_text())
    assert record == {"tiny-test": "0.1.0"}
    with pytest.raises(ModelError, match="not installed"):
        set_active("tiny-test", "9.9.9")
    assert store.active_version("tiny-test") == "0.1.0"


def test_load_is_cached_per_folder_and_follows_the_active_version(two_versions):
    a, b = two_versions
    store = ModelStore()
    latest = store.load("tiny-test")
    assert latest.manifest.version == "0.2.0"
    assert store.load("tiny-test@0.2.0") is latest               # same folder, one loaded model
    assert store.load(b) is latest
    store.set_active("tiny-test", "0.1.0")
    assert latest.path.resolve() not in store.loaded()          # the replaced version was freed
    old = store.load("tiny-test")
    assert old.manifest.version == "0.1.0" and old.path.resolve() == a.resolve()
    store.forget("tiny-test@0.1.0")
    assert store.loaded() == []
    assert store.load("tiny-test") is not old                   # re-read after forget
    store.forget()
    assert store.loaded() == []


def test_load_model_takes_name_at_version(two_versions):
    """``NAME@1.0.0`` once looked like a file name with a suffix ``.0`` and was refused."""
    from engine.models import load_model

    assert load_model("tiny-test@0.1.0").manifest.version == "0.1.0"
    with pytest.raises(ModelError, match="not found"):
        load_model("no/such/model.safetensors")


def test_concurrent_loads_read_the_package_once(two_versions):
    store = ModelStore()
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.load("tiny-test@0.1.0")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert isinstance(results[0].network, torch.nn.Module)


def test_weights_hash_is_sha256_of_the_member_files(two_versions):
    a, _ = two_versions
    assert weights_hash(a) == hashlib.sha256((a / "weights.safetensors").read_bytes()).hexdigest()


def test_next_version():
    assert next_version("1.0.0", set()) == "1.0.1"
    assert next_version("1.0.0", {"1.0.1", "1.0.2"}) == "1.0.3"
    assert next_version("2", set()) == "3"
