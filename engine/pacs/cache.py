"""The retrieval cache: one folder per series, named by a hash of its UIDs, never by patient data.

``<cache>/<server-hash>/<sha256(study_uid|series_uid)[:24]>/`` holds one file per instance, named
by a hash of its SOP Instance UID, so a folder listing says nothing about the patient and a
resumed retrieval knows which instances it already has. A folder being filled carries a
``.partial`` marker until its last instance is in; ``is_complete()`` is true only without it.
``prune(max_bytes)`` keeps the cache under a size (``CANDOR_PACS_CACHE_GB``, default 20): the least
recently used complete series go first; partial ones are kept (they are resumable work).
Instances are written to a temporary name and renamed, so an instance file is whole or absent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from engine.resources import user_subdir

PARTIAL = ".partial"
DEFAULT_LIMIT_GB = 20.0
SUFFIX = ".dcm"


def digest(*parts: str, length: int = 24) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


def cache_root() -> Path:
    """``pacs-cache`` under the Candor user data folder (``CANDOR_HOME`` in tests)."""
    return user_subdir("pacs-cache")


def series_folder(server: str, study_uid: str, series_uid: str | None, root: Path | None = None) -> Path:
    """Where a retrieved series (or a whole study, ``series_uid=None``) of ``server`` lives."""
    base = root if root is not None else cache_root()
    return base / digest(server, length=12) / digest(study_uid, series_uid or "*")


def instance_path(folder: Path, sop_uid: str) -> Path:
    return folder / (digest(sop_uid, length=32) + SUFFIX)


def has_instance(folder: Path, sop_uid: str) -> bool:
    return instance_path(folder, sop_uid).is_file()


def begin(folder: Path) -> None:
    """Mark ``folder`` as being filled (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PARTIAL).touch()


def finish(folder: Path) -> None:
    """The last instance is in: drop the partial marker."""
    (folder / PARTIAL).unlink(missing_ok=True)


def is_partial(folder: Path) -> bool:
    return (folder / PARTIAL).exists()


def is_complete(folder: Path) -> bool:
    return folder.is_dir() and not is_partial(folder) and any(folder.glob("*" + SUFFIX))


def write_instance(folder: Path, sop_uid: str, data: bytes) -> Path:
    """Write one instance's bytes whole (temporary name, then rename)."""
    final = instance_path(folder, sop_uid)
    temp = final.with_suffix(".tmp")
    temp.write_bytes(data)
    os.replace(temp, final)
    return final


def discard_if_empty(folder: Path) -> None:
    """Remove a folder a failed retrieval left with no instance in it (nothing cached)."""
    if folder.is_dir() and not any(folder.glob("*" + SUFFIX)):
        shutil.rmtree(folder, ignore_errors=True)


def clear(root: Path | None = None) -> int:
    """Delete the whole cache; returns the bytes freed."""
    base = root if root is not None else cache_root()
    freed = sum(p.stat().st_size for p in base.rglob("*") if p.is_file())
    shutil.rmtree(base, ignore_errors=True)
    return freed


def limit_bytes() -> int:
    """The cache's size limit: ``CANDOR_PACS_CACHE_GB`` (default 20 GB)."""
    raw = os.environ.get("CANDOR_PACS_CACHE_GB", "")
    try:
        gigabytes = float(raw) if raw else DEFAULT_LIMIT_GB
    except ValueError:
        gigabytes = DEFAULT_LIMIT_GB
    return int(max(gigabytes, 0.0) * 1e9)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def prune(max_bytes: int | None = None, root: Path | None = None, keep: Path | None = None) -> list[Path]:
    """Delete least recently used complete series until the cache fits ``max_bytes``; the folder
    ``keep`` (the one just retrieved) and partial folders stay. Returns the folders removed."""
    base = root if root is not None else cache_root()
    limit = limit_bytes() if max_bytes is None else max_bytes
    folders = [f for f in base.glob("*/*") if f.is_dir()]
    total = sum(_size(f) for f in folders)
    removed = []
    candidates = [f for f in folders if is_complete(f) and (keep is None or f.resolve() != Path(keep).resolve())]
    for folder in sorted(candidates, key=lambda f: f.stat().st_mtime):
        if total <= limit:
            break
        total -= _size(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
