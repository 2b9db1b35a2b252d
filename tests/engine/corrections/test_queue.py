"""The correction queue: durable SQLite + checked NIfTI files, statistics, pseudonyms, history."""

from __future__ import annotations

import gzip
import json
import sqlite3

import numpy as np
import pytest

from engine.corrections import CorrectionQueue, ModelRef, dice, edit_stats
from engine.corrections.db import QueueDatabaseError
from engine.editing.durable import CorruptFileError
from engine.errors import InputError
from engine.labels import LabelTable
from engine.resources import user_subdir


def test_add_stores_everything_and_reads_back_exactly(case):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        item = q.add(image, ai, corrected, table, ModelRef("candor-brain", "1.0", "ab" * 32))
        assert q.root == user_subdir("queue")
        loaded = q.load(item.id[:6])
    np.testing.assert_array_equal(loaded.image.array, image.array)
    np.testing.assert_array_equal(loaded.ai.array, ai)
    np.testing.assert_array_equal(loaded.corrected.array, corrected)
    assert loaded.image.geometry.is_close(image.geometry)
    assert loaded.table == table
    assert item.model == {"name": "candor-brain", "version": "1.0", "weights_hash": "ab" * 32}
    assert item.status == "queued" and item.modality == "CT"
    label1 = next(e for e in item.stats["labels"] if e["id"] == 1)
    assert (label1["added"], label1["removed"], label1["name"]) == (160, 0, "Tumour")
    assert label1["dice"] == pytest.approx(2 * 400 / (400 + 560), abs=1e-6)
    assert item.stats["voxels_added"] == 169 and item.stats["voxels_removed"] == 0


def test_database_is_wal_full_sync_and_pseudonyms_are_keyed(case):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        a = q.add(image, ai, corrected, table)
        b = q.add(image, ai, ai, table)
        assert q._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert q._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # same study → same pseudonym, and neither UID appears in it
    assert a.study == b.study and a.study.startswith("study-") and len(a.study) == 30
    assert "3680043" not in a.study + a.series
    # another machine (another secret) gives another pseudonym
    other = user_subdir("queue").parent / "elsewhere"
    with CorrectionQueue(other) as q2:
        assert q2.add(image, ai, corrected, table).study != a.study
    # identical images are stored once (content addressing)
    assert a.image == b.image and a.ai == b.ai == b.corrected


def test_nothing_identifying_is_written(case):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        q.add(image, ai, corrected, table)
        root = q.root
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                data = gzip.decompress(data)
            assert b"3680043" not in data, path.name  # the raw UIDs never reach disk


def test_list_order_history_usage_and_remove(case):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        first = q.add(image, ai, corrected, table)
        second = q.add(image, corrected, corrected, table)
        assert [i.id for i in q.items()] == [first.id, second.id]
        q.mark_used([first.id], "candor-brain", "1.1", "train")
        assert q.get(first.id).status == "used"
        assert q.get(first.id).used_by[0]["version"] == "1.1"
        q.remove(first.id)
        assert [i.id for i in q.items()] == [second.id]
        events = [e["event"] for e in q.history(first.id)]
        assert events == ["queued", "used", "removed"]
        # shared files stay for the remaining item, the removed item's own mask is gone
        assert q.blobs.path(first.image).exists()
        assert not q.blobs.path(first.corrected).exists() or first.corrected in (second.ai, second.corrected)
        assert q.verify() == []
        with pytest.raises(InputError):
            q.get(first.id)


def test_export_writes_nifti_and_json(case, tmp_path):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        item = q.add(image, ai, corrected, table)
        files = q.export(item.id, tmp_path / "out")
        assert q.history(item.id)[-1]["event"] == "exported"
    assert sorted(p.name for p in files) == ["ai.nii.gz", "corrected.nii.gz", "correction.json",
                                             "image.nii.gz"]
    import SimpleITK as sitk

    back = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / "corrected.nii.gz")))
    np.testing.assert_array_equal(back, corrected)
    meta = json.loads((tmp_path / "out" / "correction.json").read_text())
    assert meta["id"] == item.id and meta["history"][0]["event"] == "queued"


def test_masks_must_match_the_scan(case):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        with pytest.raises(InputError, match="shape"):
            q.add(image, ai[:-1], corrected, table)
        with pytest.raises(InputError, match="grid"):
            shifted = image.with_array(ai, geometry=type(image.geometry)(
                image.geometry.size, image.geometry.spacing, (0.0, 0.0, 0.0)))
            q.add(image, shifted, corrected, table)
        assert q.items() == []


def test_tampered_files_and_damaged_database_are_reported(case):
    image, ai, corrected, table = case
    with CorrectionQueue() as q:
        item = q.add(image, ai, corrected, table)
        path = q.blobs.path(item.corrected)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with CorrectionQueue() as q:
        assert any(item.id in p for p in q.verify())
        with pytest.raises(CorruptFileError):
            q.load(item.id)
    db = user_subdir("queue") / "queue.db"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    raw = bytearray(db.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # wreck the first page's b-tree
    db.write_bytes(bytes(raw))
    with pytest.raises(QueueDatabaseError):
        CorrectionQueue()


def test_stats_helpers():
    a = np.zeros((2, 4, 4), np.uint8)
    b = a.copy()
    assert dice(a == 1, b == 1) == 1.0
    b[0, 0, :2] = 3
    s = edit_stats(a, b, LabelTable())
    assert s["labels"][0]["name"] == "Label 3" and s["labels"][0]["added"] == 2
    assert s["dice_foreground"] == 0.0 and s["voxels_changed"] == 2
