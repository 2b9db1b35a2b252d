"""engine.durable: the one temp + fsync + rename helper (files and whole folders)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from engine import durable


@pytest.fixture
def fsynced(monkeypatch):
    """The real os.fsync, recording which paths it flushed (Linux: through /proc/self/fd)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs /proc/self/fd to name fsynced descriptors")
    seen: list[Path] = []
    real = os.fsync

    def record(fd):
        seen.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        return real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return seen


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, fsynced):
    target = tmp_path / "state.json"
    durable.atomic_write_json(target, {"a": 1})
    assert target.read_text() == '{\n "a": 1\n}'
    assert tmp_path in fsynced                         # the rename itself made durable

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        durable.atomic_write(target, fail)
    assert target.read_text() == '{\n "a": 1\n}'         # previous complete file kept
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp left behind


def test_replace_durably_flushes_every_file_of_a_folder_then_renames(tmp_path, fsynced):
    temp = tmp_path / ".tmp-pkg"
    (temp / "regression").mkdir(parents=True)
    (temp / "manifest.json").write_text("{}")
    (temp / "regression" / "case_image.nii.gz").write_bytes(b"\x1f\x8b" + b"0" * 100)
    final = tmp_path / "pkg"
    durable.replace_durably(temp, final)
    assert not temp.exists()
    assert (final / "regression" / "case_image.nii.gz").read_bytes()[:2] == b"\x1f\x8b"
    flushed = {p.name for p in fsynced}
    assert {"manifest.json", "case_image.nii.gz", "regression", ".tmp-pkg", tmp_path.name} <= flushed


def test_replace_durably_of_one_file(tmp_path, fsynced):
    temp, final = tmp_path / ".partial.nii.gz", tmp_path / "mask.nii.gz"
    temp.write_bytes(b"new")
    final.write_bytes(b"old")
    durable.replace_durably(temp, final)
    assert final.read_bytes() == b"new" and not temp.exists()
    assert temp.name in {p.name for p in fsynced}     # flushed before the rename
