"""The recent-files list survives a restart and is written durably (temp + fsync + rename)."""

from __future__ import annotations

import json
import os

from viewer.state.recent import RecentFiles


def test_recent_files_survive_a_restart_and_leave_no_temp_file(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    store = tmp_path / "recent.json"
    recent = RecentFiles(store, limit=2)
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        recent.add(tmp_path / name)
    assert synced, "the list was renamed into place without an fsync"
    assert json.loads(store.read_text()) == [str((tmp_path / n).resolve()) for n in ("c", "b")]
    assert RecentFiles(store, limit=2).paths == recent.paths          # a new session reads it back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "recent.json"]
