"""Autosave and recovery, including a real process killed with SIGKILL in the middle of a save."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.corrections import CorrectionQueue
from engine.editing.autosave import (AutosaveSession, SavedLayer, Snapshot, discard, load_snapshot,
                                     pending_sessions, recover)
from engine.editing.durable import CorruptFileError
from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry
from tests.engine.editing import autosave_child as child

ROOT = Path(__file__).resolve().parents[3]
GEOMETRY = Geometry((32, 24, 8), (0.7, 0.7, 3.0), (1.0, 2.0, 3.0))


def _layer(value: int, name: str = "Corrected") -> SavedLayer:
    labels = np.zeros(GEOMETRY.shape, np.uint16)
    labels[2:5, 4:10, 4:10] = value
    return SavedLayer(name, labels, GEOMETRY, LabelTable([LabelInfo(value, "Lesion", (1, 2, 3))]),
                      info={"model": "candor-brain@1.0"})


def test_save_and_load_round_trip(tmp_path):
    session = AutosaveSession(tmp_path)
    snap = Snapshot({"path": "/data/scan", "series_uid": None}, [_layer(3), _layer(4, "AI")], ["q1"])
    assert session.save(snap) == 1
    assert pending_sessions(tmp_path) == []  # still alive: nothing to recover
    session.close(keep=True)  # as if the process had died
    pending = pending_sessions(tmp_path)
    assert [p.session_id for p in pending] == [session.session_id]
    back = load_snapshot(session.session_id, tmp_path)
    assert back.source["path"] == "/data/scan" and back.accepted == ["q1"]
    assert [l.name for l in back.layers] == ["Corrected", "AI"]
    np.testing.assert_array_equal(back.layers[0].labels, _layer(3).labels)
    assert back.layers[0].geometry == GEOMETRY and back.layers[0].table[3].name == "Lesion"
    assert back.layers[0].info == {"model": "candor-brain@1.0"}


def test_unchanged_layers_are_not_rewritten_and_old_arrays_are_collected(tmp_path):
    session = AutosaveSession(tmp_path)
    session.save(Snapshot({}, [_layer(1), _layer(2, "AI")]))
    files = {p.name for p in session.folder.glob("*.cnda")}
    session.save(Snapshot({}, [_layer(5), _layer(2, "AI")]))
    after = {p.name for p in session.folder.glob("*.cnda")}
    assert len(files) == len(after) == 2 and len(files & after) == 1  # AI layer kept as is
    session.close()
    assert not session.folder.exists() and pending_sessions(tmp_path) == []


def test_recovered_session_can_itself_be_recovered(tmp_path):
    first = AutosaveSession(tmp_path)
    first.save(Snapshot({"path": "a"}, [_layer(1)]))
    first.close(keep=True)
    second, snap = recover(first.session_id, tmp_path)
    assert not first.folder.exists() and snap.layers[0].labels.max() == 1
    second.save(Snapshot({"path": "a"}, [_layer(2)]))
    second.close(keep=True)
    (pending,) = pending_sessions(tmp_path)
    assert pending.session_id == second.session_id and pending.recovered_from == (first.session_id,)
    third, snap = recover(second.session_id, tmp_path)
    assert snap.layers[0].labels.max() == 2 and third.recovered_from == (first.session_id, second.session_id)
    third.close()


def test_damaged_array_is_reported_and_session_can_be_discarded(tmp_path):
    session = AutosaveSession(tmp_path)
    session.save(Snapshot({}, [_layer(1)]))
    session.close(keep=True)
    victim = next(session.folder.glob("*.cnda"))
    victim.write_bytes(victim.read_bytes()[:-5])
    with pytest.raises(CorruptFileError):
        load_snapshot(session.session_id, tmp_path)
    discard(session.session_id, tmp_path)
    assert pending_sessions(tmp_path) == []


def _run_until_killed(mode: str, root: Path, home: Path, rng: random.Random) -> tuple[str, int, int, bool]:
    """Start the child, wait for its accept and a few saves, SIGKILL it during a save."""
    env = {**os.environ, "CANDOR_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(Path(child.__file__)), mode, str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    accepted_id, last_saved, target = None, -1, rng.randint(2, 4)
    seen_saving = 0
    for line in proc.stdout:
        word, *rest = line.split()
        if word == "accepted":
            accepted_id = rest[0]
        elif word == "saved":
            last_saved = int(rest[0])
        elif word == "saving":
            seen_saving += 1
            if seen_saving == target:
                being_saved = int(rest[0])
                break
    else:
        raise AssertionError("child exited early: " + proc.stderr.read())
    proc.send_signal(signal.SIGKILL)
    tail = proc.stdout.read()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = f"saved {being_saved}" in tail
    return accepted_id, last_saved, being_saved, not finished


def test_kill_9_during_autosave_keeps_accepted_data_and_recovers_twice(tmp_path, candor_home):
    root = tmp_path / "autosave"
    root.mkdir()
    rng = random.Random(1234)
    accepted_ids, mid_save_kills = [], 0
    for round_, mode in enumerate(["fresh", "recover", "recover"]):
        accepted_id, last_saved, being_saved, mid_save = _run_until_killed(mode, root, candor_home, rng)
        accepted_ids.append(accepted_id)
        mid_save_kills += mid_save
        # exactly one abandoned session, holding a complete save: the last finished or the
        # interrupted one, never a torn mix
        (pending,) = pending_sessions(root)
        assert len(pending.recovered_from) == round_
        snap = load_snapshot(pending.session_id, root)
        work = next(l for l in snap.layers if l.name == "work")
        n = int(work.info["n"])
        assert n in (last_saved, being_saved)
        np.testing.assert_array_equal(work.labels, child.state(n))
        accepted = next(l for l in snap.layers if l.name == "accepted")
        np.testing.assert_array_equal(accepted.labels, child.accepted_mask())
        assert snap.accepted == [accepted_id]
        # what was accepted into the queue is intact too
        with CorrectionQueue() as queue:
            assert queue.verify() == []
            assert [i.id for i in queue.items()] == accepted_ids
            np.testing.assert_array_equal(queue.load(accepted_id).corrected.array,
                                          child.accepted_mask())
    assert mid_save_kills >= 1, "no kill landed inside a save"
