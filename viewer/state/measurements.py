"""The reader's measurements on the open image: an ordered list with undo/redo and a selection.

Qt-free (psygnal events, like the rest of :mod:`viewer.state`); the records themselves are the
frozen :class:`engine.reading.measure.Measurement` values, so an undo step is just the previous
tuple of entries. Each entry has a stable integer id (a list row can move; an id never does).

Events: ``changed()`` after any change to the list (add, rename, delete, undo, redo, load,
clear); ``selected(id | None)`` when the selection moves.
"""

from __future__ import annotations

import logging

from psygnal import Signal

from engine.errors import InputError
from engine.reading.measure import Measurement, dumps, loads

log = logging.getLogger(__name__)

_Entries = tuple[tuple[int, Measurement], ...]

#: Default names by kind, numbered per kind ("Ruler 1", "Ellipse 2", …).
DEFAULT_NAMES = {"distance": "Ruler", "angle": "Angle", "rectangle": "Rectangle",
                 "ellipse": "Ellipse", "label": "Label ROI"}
#: The names :mod:`engine.reading.measure` gives when none is passed ("Label 3" is kept: it
#: already says which label).
_ENGINE_DEFAULTS = {"", "Distance", "Angle", "Rectangle", "Ellipse"}


class MeasurementList:
    """Measurements with stable ids, undo/redo (``undo_limit`` steps) and one selected entry."""

    changed = Signal()
    selected = Signal(object)

    def __init__(self, undo_limit: int = 100) -> None:
        self.undo_limit = undo_limit
        self._entries: _Entries = ()
        self._undo: list[_Entries] = []
        self._redo: list[_Entries] = []
        self._next_id = 1
        self._selected: int | None = None

    # Reading ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[int]:
        return [i for i, _ in self._entries]

    def items(self) -> list[tuple[int, Measurement]]:
        return list(self._entries)

    def get(self, mid: int) -> Measurement:
        for i, m in self._entries:
            if i == mid:
                return m
        raise InputError(f"there is no measurement #{mid}")

    @property
    def selection(self) -> int | None:
        return self._selected

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    # Changing -----------------------------------------------------------------------------------

    def add(self, m: Measurement) -> int:
        """Append ``m`` (named "Ruler 3" etc. when it has the engine's default name) → its id."""
        if m.name in _ENGINE_DEFAULTS:
            m = m.renamed(self._default_name(m.kind))
        mid = self._next_id
        self._next_id += 1
        self._commit(self._entries + ((mid, m),))
        self.select(mid)
        return mid

    def rename(self, mid: int, name: str) -> None:
        name = name.strip()
        if not name:
            raise InputError("a measurement needs a name")
        old = self.get(mid)
        if old.name == name:
            return
        self._commit(tuple((i, m.renamed(name) if i == mid else m) for i, m in self._entries))

    def delete(self, mid: int) -> None:
        self.get(mid)  # a clear error for an unknown id
        self._commit(tuple(e for e in self._entries if e[0] != mid))
        if self._selected == mid:
            self.select(None)

    def clear(self) -> None:
        """Forget everything, history included (a new image was opened)."""
        self._entries, self._undo, self._redo = (), [], []
        self.select(None)
        self.changed.emit()

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._entries)
        self._entries = self._undo.pop()
        self._after_history()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._entries)
        self._entries = self._redo.pop()
        self._after_history()
        return True

    def select(self, mid: int | None) -> None:
        if mid is not None and mid not in self.ids():
            raise InputError(f"there is no measurement #{mid}")
        if mid != self._selected:
            self._selected = mid
            self.selected.emit(mid)

    # JSON ---------------------------------------------------------------------------------------

    def to_json(self) -> str:
        return dumps([m for _, m in self._entries])

    def load_json(self, text: str) -> int:
        """Replace the list by the measurements in ``text`` (history cleared) → how many.

        Raises :class:`InputError` for a malformed document and leaves the list unchanged.
        """
        ms = loads(text)
        start = self._next_id
        self._next_id += len(ms)
        self._entries = tuple((start + n, m) for n, m in enumerate(ms))
        self._undo, self._redo = [], []
        self.select(None)
        self.changed.emit()
        return len(ms)

    # Internals ----------------------------------------------------------------------------------

    def _default_name(self, kind: str) -> str:
        base = DEFAULT_NAMES.get(kind, kind.title())
        used = {m.name for _, m in self._entries}
        n = 1 + sum(1 for _, m in self._entries if m.kind == kind)
        while f"{base} {n}" in used:
            n += 1
        return f"{base} {n}"

    def _commit(self, entries: _Entries) -> None:
        self._undo.append(self._entries)
        del self._undo[: -self.undo_limit]
        self._redo.clear()
        self._entries = entries
        self.changed.emit()

    def _after_history(self) -> None:
        if self._selected is not None and self._selected not in self.ids():
            self.select(None)
        self.changed.emit()
