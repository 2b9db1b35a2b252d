"""Recently opened studies, persisted as JSON in the user data folder.

Only paths are stored (which the user chose); nothing read from inside the files.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from psygnal import Signal

from engine.durable import atomic_write_json
from engine.resources import user_data_dir

log = logging.getLogger(__name__)


class RecentFiles:
    """An ordered, bounded, de-duplicated list of paths with a ``changed`` event."""

    changed = Signal()

    def __init__(self, store: Path | None = None, limit: int = 10) -> None:
        self.store = store or (user_data_dir() / "recent.json")
        self.limit = limit
        self._paths: list[str] = self._read()

    @property
    def paths(self) -> list[str]:
        return list(self._paths)

    def add(self, path: str | os.PathLike) -> None:
        p = str(Path(path).resolve())
        self._paths = [p, *(q for q in self._paths if q != p)][: self.limit]
        self._write()
        self.changed.emit()

    def clear(self) -> None:
        self._paths = []
        self._write()
        self.changed.emit()

    def _read(self) -> list[str]:
        try:
            data = json.loads(self.store.read_text(encoding="utf-8"))
            return [str(p) for p in data if isinstance(p, str)][: self.limit]
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("recent-files list is unreadable; starting with an empty list")
            return []

    def _write(self) -> None:
        try:
            atomic_write_json(self.store, self._paths)    # temp + fsync + rename: never half a list
        except OSError:
            log.warning("could not save the recent-files list")
