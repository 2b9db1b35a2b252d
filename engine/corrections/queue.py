"""The durable, de-identified correction queue: what "Accept & queue" stores, and fine-tuning reads.

An item holds the scan as a de-identified NIfTI (voxels and grid only), the AI mask, the corrected
mask, the label table, which model produced the AI mask (name, version, weights hash), when, edit
statistics, and HMAC pseudonyms of the study and series UIDs — never a name, ID, date or free text.
Metadata lives in SQLite (see :mod:`engine.corrections.db`); arrays in :class:`BlobStore`.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from engine.corrections.blobs import BlobStore
from engine.corrections.db import connect
from engine.corrections.pseudonym import load_or_create_secret, pseudonym
from engine.corrections.stats import edit_stats
from engine.errors import InputError
from engine.labels import LabelTable
from engine.volume import Geometry, Volume

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    """The model version that produced an AI mask."""

    name: str
    version: str
    weights_hash: str | None = None

    @classmethod
    def parse(cls, text: str, weights_hash: str | None = None) -> ModelRef:
        name, sep, version = text.partition("@")
        if not name or not sep or not version:
            raise InputError(f"give the model as NAME@VERSION, got {text!r}")
        return cls(name.strip(), version.strip(), weights_hash)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def resolve_model(spec: str) -> ModelRef:
    """``NAME@VERSION`` (or ``NAME``) of an installed model package, with its weights hash.

    A model that is not installed here is still recorded by name and version (weights unknown).
    """
    from engine.errors import ModelError
    from engine.models.discovery import find_model

    try:
        info = find_model(spec)
    except ModelError:
        if "@" not in spec:
            raise
        log.warning("model %s is not installed here; its weights hash is not recorded", spec)
        return ModelRef.parse(spec)
    from engine.models.store import weights_hash

    return ModelRef(info.name, info.version, weights_hash(info.path))


@dataclass(frozen=True)
class QueueItem:
    id: str
    created: str
    study: str | None
    series: str | None
    modality: str
    geometry: dict[str, Any]
    image: str
    ai: str
    corrected: str
    labels: list[dict[str, Any]]
    model: dict[str, Any] | None
    stats: dict[str, Any]
    used_by: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "used" if self.used_by else "queued"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


@dataclass
class Correction:
    """An item's arrays, read back and verified: what fine-tuning trains on."""

    item: QueueItem
    image: Volume
    ai: Volume
    corrected: Volume
    table: LabelTable


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def queue_root() -> Path:
    from engine.resources import user_subdir

    return user_subdir("queue")


class CorrectionQueue:
    """Open (or create) the queue in ``root`` (default: the user's ``queue`` folder)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else queue_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root)
        self._secret = load_or_create_secret(self.root)
        self._lock = threading.RLock()
        self._conn = connect(self.root / "queue.db")
        self.blobs.sweep(self._referenced())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> CorrectionQueue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Adding ---------------------------------------------------------------------------------
    def add(self, image: Volume, ai: np.ndarray | Volume, corrected: np.ndarray | Volume,
            table: LabelTable | None = None, model: ModelRef | None = None) -> QueueItem:
        """Store one accepted correction; returns the new item."""
        ai_arr, corr_arr = (self._mask_array(m, image.geometry, what)
                            for m, what in ((ai, "AI mask"), (corrected, "corrected mask")))
        table = table or LabelTable()
        stats = edit_stats(ai_arr, corr_arr, table, image.geometry.voxel_volume_ml)
        digests = [self.blobs.put(image.array, image.geometry),
                   self.blobs.put(ai_arr, image.geometry), self.blobs.put(corr_arr, image.geometry)]
        item_id = uuid.uuid4().hex[:10]
        row = (item_id, _now(), pseudonym(self._secret, image.metadata.get("study_uid"), "study"),
               pseudonym(self._secret, image.metadata.get("series_uid"), "series"),
               str(image.modality or "OT"), json.dumps(image.geometry.to_dict()), *digests,
               json.dumps(table.to_list()), model.name if model else None,
               model.version if model else None, model.weights_hash if model else None,
               json.dumps(stats))
        with self._transaction():
            self._conn.execute("INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            self._event(item_id, "queued", str(model) if model else "")
        log.info("queue: added correction %s (%d voxels changed)", item_id, stats["voxels_changed"])
        return self.get(item_id)

    @staticmethod
    def _mask_array(mask: np.ndarray | Volume, geometry: Geometry, what: str) -> np.ndarray:
        if isinstance(mask, Volume):
            if not mask.geometry.is_close(geometry):
                raise InputError(f"the {what} is not on the scan's voxel grid (size, spacing, "
                                 "origin or orientation differ); resample it onto the scan first")
            mask = mask.array
        mask = np.asarray(mask)
        if mask.shape != geometry.shape:
            raise InputError(f"the {what} has shape {mask.shape}, the scan {geometry.shape}")
        if not np.issubdtype(mask.dtype, np.integer):
            if not np.all(np.equal(np.mod(mask, 1), 0)) or mask.min() < 0:
                raise InputError(f"the {what} must hold whole label numbers (0 = background)")
        if mask.min() < 0 or mask.max() > 65535:
            raise InputError(f"the {what} holds label numbers outside 0..65535")
        return mask.astype(np.uint8 if mask.max() < 256 else np.uint16)

    # Reading --------------------------------------------------------------------------------
    def items(self) -> list[QueueItem]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM items ORDER BY created, rowid").fetchall()
            return [self._item(r) for r in rows]

    def get(self, item_id: str) -> QueueItem:
        """The item with this id (a unique prefix of at least 4 characters is enough)."""
        item_id = str(item_id).strip()
        with self._lock:
            rows = self._conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchall()
            if not rows and len(item_id) >= 4:
                rows = self._conn.execute("SELECT * FROM items WHERE id LIKE ?",
                                          (item_id.replace("%", "") + "%",)).fetchall()
            if len(rows) != 1:
                raise InputError(f"no queued correction {item_id!r}" if not rows
                                 else f"{item_id!r} matches several corrections; give more of the id")
            return self._item(rows[0])

    def load(self, item_id: str) -> Correction:
        """An item's image and masks, checksums verified."""
        item = self.get(item_id)
        image = self.blobs.get(item.image, modality=item.modality)
        ai, corr = self.blobs.get(item.ai), self.blobs.get(item.corrected)
        return Correction(item, image, ai, corr, LabelTable.from_list(item.labels))

    def history(self, item_id: str) -> list[dict[str, str]]:
        """Everything that happened to an item (queued, used by…, exported, removed)."""
        with self._lock:
            rows = self._conn.execute("SELECT time, event, detail FROM events WHERE item_id = ? "
                                      "ORDER BY rowid", (item_id,)).fetchall()
        return [{"time": t, "event": e, "detail": d} for t, e, d in rows]

    def _item(self, row: tuple) -> QueueItem:
        (item_id, created, study, series, modality, geometry, image, ai, corrected, labels,
         model_name, model_version, weights_hash, stats) = row
        used = self._conn.execute("SELECT model, version, role, time FROM usage WHERE item_id = ? "
                                  "ORDER BY rowid", (item_id,)).fetchall()
        model = ({"name": model_name, "version": model_version, "weights_hash": weights_hash}
                 if model_name else None)
        return QueueItem(item_id, created, study, series, modality, json.loads(geometry), image, ai,
                         corrected, json.loads(labels), model, json.loads(stats),
                         [{"model": m, "version": v, "role": r, "time": t} for m, v, r, t in used])

    # Changing -------------------------------------------------------------------------------
    def mark_used(self, item_ids: list[str], model: str, version: str, role: str = "train") -> None:
        """Record that a model version was trained (``train``) or validated (``val``) on items."""
        with self._transaction():
            for item_id in item_ids:
                self._conn.execute("INSERT INTO usage VALUES (?,?,?,?,?)",
                                   (item_id, model, version, role, _now()))
                self._event(item_id, "used", f"{model}@{version} ({role})")

    def export(self, item_id: str, folder: Path) -> list[Path]:
        """Copy an item's NIfTI files and a JSON description into ``folder``."""
        item = self.get(item_id)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, digest in (("image", item.image), ("ai", item.ai), ("corrected", item.corrected)):
            self.blobs.verify(digest)
            target = folder / f"{name}.nii.gz"
            shutil.copyfile(self.blobs.path(digest), target)
            written.append(target)
        meta = folder / "correction.json"
        meta.write_text(json.dumps({**item.to_dict(), "history": self.history(item.id)}, indent=1),
                        encoding="utf-8")
        written.append(meta)
        with self._transaction():
            self._event(item.id, "exported", "")
        return written

    def remove(self, item_id: str) -> None:
        """Delete an item and its files; its history keeps a 'removed' entry."""
        item = self.get(item_id)
        with self._transaction():
            self._conn.execute("DELETE FROM items WHERE id = ?", (item.id,))
            self._event(item.id, "removed", "")
        referenced = self._referenced()
        for digest in {item.image, item.ai, item.corrected} - referenced:
            self.blobs.delete(digest)
        log.info("queue: removed correction %s", item.id)

    def verify(self) -> list[str]:
        """Check every item's files against their checksums; returns problems (empty = intact)."""
        problems = []
        for item in self.items():
            for digest in (item.image, item.ai, item.corrected):
                try:
                    self.blobs.verify(digest)
                except Exception as exc:  # CorruptFileError: report, keep checking
                    problems.append(f"{item.id}: {exc}")
        return problems

    @contextmanager
    def _transaction(self):
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _event(self, item_id: str, event: str, detail: str) -> None:
        self._conn.execute("INSERT INTO events VALUES (?,?,?,?)", (item_id, _now(), event, detail))

    def _referenced(self) -> set[str]:
        with self._lock:
            rows = self._conn.execute("SELECT image, ai, corrected FROM items").fetchall()
        return {d for row in rows for d in row}


def queue_correction(image: Volume, ai: np.ndarray | Volume, corrected: np.ndarray | Volume,
                     table: LabelTable | None = None, model: ModelRef | str | None = None, *,
                     root: Path | None = None, progress=None, cancel=None) -> QueueItem:
    """Job-friendly "Accept & queue": open the queue, store one correction, close it.

    ``model`` may be a :class:`ModelRef` or ``"NAME@VERSION"`` (its weights hash is looked up
    among the installed models).
    """
    from engine.jobs import report

    report(progress, cancel, 0.0, "queueing the correction")
    if isinstance(model, str):
        model = resolve_model(model)
    with CorrectionQueue(root) as queue:
        item = queue.add(image, ai, corrected, table, model)
    if progress is not None:  # stored: too late to cancel
        progress(1.0, "queued")
    return item
