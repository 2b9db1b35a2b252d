"""Autosave and crash recovery of the working label maps.

Each running viewer session owns a folder ``<autosave>/<session id>/`` holding a ``lock`` file
(locked by the OS for as long as the process lives), content-addressed array files and a
``manifest.json`` that names them. A save writes the arrays first and the manifest last, each by
temp file + fsync + rename, so a kill at any instant leaves the previous or the new manifest, and
every array it names is complete. Arrays no manifest names any more are deleted afterwards.

After a crash the folder is left with a free lock: :func:`pending_sessions` lists it and
:func:`recover` loads it into a *new* session (saved at once, the old folder removed only after),
so a recovered session that crashes again is recovered the same way, with its lineage recorded in
``recovered_from``.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.durable import atomic_write_json
from engine.editing.durable import CorruptFileError, read_array, write_array
from engine.editing.session_lock import FileLock, is_locked_by_other
from engine.errors import CandorError
from engine.jobs import report
from engine.labels import LabelTable
from engine.volume import Geometry

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"


@dataclass
class SavedLayer:
    """One label map of a session: its voxels, grid, label names/colours and where it came from."""

    name: str
    labels: np.ndarray
    geometry: Geometry
    table: LabelTable = field(default_factory=LabelTable)
    role: str = "corrected"  # "ai" (read-only model output), "corrected" or "manual" (editable)
    #: what the front end needs to restore the layer, JSON-ready: the viewer keeps its typed
    #: provenance here (``{"provenance": {"model_name": …, "ood_flag": …, "trust": …}}``) and,
    #: for a correction, the name of the AI layer it corrects (``"ai_source"``)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Snapshot:
    """What a session saves: the scan it works on and its label layers."""

    source: dict[str, Any] = field(default_factory=dict)  # {"path": ..., "series_uid": ...}
    layers: list[SavedLayer] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # queue ids accepted in this session


@dataclass(frozen=True)
class PendingSession:
    """An abandoned session that can be recovered."""

    session_id: str
    saved_at: float
    generation: int
    layer_names: tuple[str, ...]
    recovered_from: tuple[str, ...]


def autosave_root() -> Path:
    from engine.resources import user_subdir

    return user_subdir("autosave")


class AutosaveSession:
    """The autosave folder of one live session. Construct it to start a session."""

    def __init__(self, root: Path | None = None, session_id: str | None = None,
                 recovered_from: tuple[str, ...] = ()) -> None:
        self.root = Path(root) if root is not None else autosave_root()
        self.session_id = session_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]
        self.folder = self.root / self.session_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.recovered_from = tuple(recovered_from)
        self.generation = 0
        self._saving = threading.Lock()  # one save at a time, whichever thread calls
        self._lock = FileLock(self.folder / "lock")
        if not self._lock.acquire():
            raise CandorError("this autosave session is in use by another Candor window")

    def save(self, snapshot: Snapshot, *, progress=None, cancel=None) -> int:
        """Write ``snapshot`` durably; returns its generation number."""
        with self._saving:
            if not self._lock.held:
                raise CandorError("this autosave session is closed")
            return self._save(snapshot, progress, cancel)

    def _save(self, snapshot: Snapshot, progress, cancel) -> int:
        layers = []
        for n, layer in enumerate(snapshot.layers):
            report(progress, cancel, n / max(len(snapshot.layers), 1), "autosave")
            digest = write_array(self.folder, np.ascontiguousarray(layer.labels))
            layers.append({"name": layer.name, "role": layer.role, "array": digest,
                           "geometry": layer.geometry.to_dict(), "labels": layer.table.to_list(),
                           "info": layer.info})
        self.generation += 1
        manifest = {"format": FORMAT, "session_id": self.session_id, "generation": self.generation,
                    "saved_at": time.time(), "recovered_from": list(self.recovered_from),
                    "source": snapshot.source, "accepted": list(snapshot.accepted), "layers": layers}
        atomic_write_json(self.folder / MANIFEST, manifest)
        self._collect_garbage({l["array"] for l in layers})
        report(progress, cancel, 1.0, "autosave")
        log.debug("autosave generation %d written (%d layers)", self.generation, len(layers))
        return self.generation

    def _collect_garbage(self, keep: set[str]) -> None:
        for path in self.folder.iterdir():
            stale_array = path.suffix == ".cnda" and path.stem not in keep
            if stale_array or path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)

    def close(self, keep: bool = False) -> None:
        """End the session: its folder is deleted (nothing to recover) unless ``keep``."""
        self._lock.release()
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def closed(self) -> bool:
        return not self._lock.held


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise CorruptFileError("an autosaved session's manifest is unreadable") from None
    if manifest.get("format") != FORMAT:
        raise CorruptFileError("an autosaved session was written by an incompatible Candor version")
    return manifest


def pending_sessions(root: Path | None = None) -> list[PendingSession]:
    """Sessions left behind by a Candor that did not close normally (newest first).

    Folders of crashed sessions that never completed a save are removed on the way.
    """
    root = Path(root) if root is not None else autosave_root()
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if is_locked_by_other(folder / "lock"):
            continue  # a live Candor owns it
        try:
            manifest = _read_manifest(folder)
        except CorruptFileError:
            log.warning("skipping an unreadable autosave folder")
            continue
        if manifest is None:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        found.append(PendingSession(folder.name, float(manifest["saved_at"]),
                                    int(manifest["generation"]),
                                    tuple(l["name"] for l in manifest["layers"]),
                                    tuple(manifest.get("recovered_from", []))))
    # a recovery that crashed before deleting its source leaves both: keep the newer one only
    superseded = {old for s in found for old in s.recovered_from}
    for s in found:
        if s.session_id in superseded:
            shutil.rmtree(root / s.session_id, ignore_errors=True)
    found = [s for s in found if s.session_id not in superseded]
    return sorted(found, key=lambda s: s.saved_at, reverse=True)


def load_snapshot(session_id: str, root: Path | None = None) -> Snapshot:
    """Read an abandoned session's last complete save (checksums verified)."""
    root = Path(root) if root is not None else autosave_root()
    folder = root / session_id
    manifest = _read_manifest(folder)
    if manifest is None:
        raise CandorError("that autosaved session holds no completed save")
    layers = []
    for entry in manifest["layers"]:
        g = entry["geometry"]
        geometry = Geometry(g["size"], g["spacing"], g["origin"], g["direction"])
        layers.append(SavedLayer(entry["name"], read_array(folder, entry["array"]), geometry,
                                 LabelTable.from_list(entry["labels"]), entry["role"],
                                 dict(entry.get("info") or {})))
    return Snapshot(dict(manifest.get("source") or {}), layers, list(manifest.get("accepted") or []))


def recover(session_id: str, root: Path | None = None) -> tuple[AutosaveSession, Snapshot]:
    """Adopt an abandoned session: its data moves into a new live session, saved at once.

    The old folder is deleted only once the new session's first save is durable, so a crash
    during recovery loses nothing either.
    """
    root = Path(root) if root is not None else autosave_root()
    old = root / session_id
    claim = FileLock(old / "lock")
    if not claim.acquire():
        raise CandorError("that session is still open in another Candor window")
    try:
        snapshot = load_snapshot(session_id, root)
        manifest = _read_manifest(old) or {}
        lineage = (*manifest.get("recovered_from", []), session_id)
        session = AutosaveSession(root, recovered_from=lineage)
        session.save(snapshot)
    finally:
        claim.release()
    shutil.rmtree(old, ignore_errors=True)
    log.info("recovered an autosaved session (%d layers)", len(snapshot.layers))
    return session, snapshot


def discard(session_id: str, root: Path | None = None) -> None:
    """Delete an abandoned session the user chose not to recover."""
    root = Path(root) if root is not None else autosave_root()
    folder = root / session_id
    if is_locked_by_other(folder / "lock"):
        raise CandorError("that session is still open in another Candor window")
    shutil.rmtree(folder, ignore_errors=True)
