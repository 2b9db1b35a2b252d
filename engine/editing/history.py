"""Undo/redo of label-map edits that stores only what changed.

Each :class:`EditRecord` holds the bounding box of one edit (a whole brush stroke, a fill, an
interpolation…), the positions of the voxels that changed inside it, and their old and new values —
never a copy of the volume. :class:`EditHistory` keeps records within a memory budget (the oldest
steps are forgotten first) and drops the redo branch as soon as a new edit is pushed after an undo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from engine.labels import LabelTable

log = logging.getLogger(__name__)

Box = tuple[slice, slice, slice]

#: Default memory budget of one history (bytes of stored voxel changes).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class EditRecord:
    """One undoable step: changed voxels inside ``bbox`` and, optionally, a label-table change."""

    description: str
    bbox: Box | None
    index: np.ndarray = field(repr=False)  # flat indices inside the bbox (uint32)
    old: np.ndarray = field(repr=False)
    new: np.ndarray = field(repr=False)
    table_before: LabelTable | None = None
    table_after: LabelTable | None = None

    @property
    def voxels(self) -> int:
        return int(self.index.size)

    @property
    def nbytes(self) -> int:
        return int(self.index.nbytes + self.old.nbytes + self.new.nbytes) + 256

    def apply(self, labels: np.ndarray, undo: bool) -> None:
        """Write the old (``undo``) or new values back into ``labels``."""
        if self.bbox is None or self.index.size == 0:
            return
        view = labels[self.bbox]
        view[np.unravel_index(self.index, view.shape)] = self.old if undo else self.new

    @classmethod
    def from_change(cls, description: str, labels: np.ndarray, bbox: Box, old_region: np.ndarray,
                    table_before: LabelTable | None = None,
                    table_after: LabelTable | None = None) -> EditRecord:
        """Record the difference between ``old_region`` and ``labels[bbox]`` as it is now."""
        new_region = labels[bbox]
        changed = np.flatnonzero(old_region != new_region)
        return cls(description, bbox, changed.astype(np.uint32),
                   old_region.reshape(-1)[changed].copy(), new_region.reshape(-1)[changed].copy(),
                   table_before, table_after)

    @classmethod
    def table_only(cls, description: str, before: LabelTable, after: LabelTable) -> EditRecord:
        empty = np.zeros(0, np.uint32)
        return cls(description, None, empty, empty, empty, before, after)


class StrokeRecorder:
    """Collects the dabs of one brush stroke and turns them into one :class:`EditRecord`.

    Each dab adds its bounding box, the mask of voxels it wrote and their values before the dab;
    :meth:`finish` keeps, for every voxel, the value it had before the stroke began.
    """

    def __init__(self, description: str, shape: tuple[int, ...]) -> None:
        self.description = description
        self.shape = tuple(shape)
        self._flat: list[np.ndarray] = []
        self._old: list[np.ndarray] = []

    def add(self, bbox: Box, mask: np.ndarray, old_values: np.ndarray) -> None:
        local = np.nonzero(mask)
        if local[0].size == 0:
            return
        coords = tuple(ax + s.start for ax, s in zip(local, bbox))
        self._flat.append(np.ravel_multi_index(coords, self.shape))
        self._old.append(np.asarray(old_values))

    @property
    def empty(self) -> bool:
        return not self._flat

    def finish(self, labels: np.ndarray) -> EditRecord | None:
        if not self._flat:
            return None
        flat = np.concatenate(self._flat)
        old = np.concatenate(self._old)
        flat, first = np.unique(flat, return_index=True)  # first dab that touched each voxel
        old = old[first]
        new = labels.reshape(-1)[flat] if labels.flags.c_contiguous else labels.flat[flat]
        keep = old != new
        flat, old, new = flat[keep], old[keep], new[keep]
        if flat.size == 0:
            return None
        coords = np.unravel_index(flat, self.shape)
        lo = [int(c.min()) for c in coords]
        hi = [int(c.max()) + 1 for c in coords]
        bbox = tuple(slice(a, b) for a, b in zip(lo, hi))
        local = np.ravel_multi_index(tuple(c - a for c, a in zip(coords, lo)),
                                     tuple(b - a for a, b in zip(lo, hi)))
        return EditRecord(self.description, bbox, local.astype(np.uint32), old.copy(), new.copy())


class EditHistory:
    """Undo and redo stacks of :class:`EditRecord` under a memory budget."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_steps: int = 500) -> None:
        self.max_bytes = int(max_bytes)
        self.max_steps = int(max_steps)
        self._undo: list[EditRecord] = []
        self._redo: list[EditRecord] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self._undo) + sum(r.nbytes for r in self._redo)

    @property
    def undo_descriptions(self) -> list[str]:
        """What each undo step would revert, most recent last (for an Edit menu or history list)."""
        return [r.description for r in self._undo]

    @property
    def redo_descriptions(self) -> list[str]:
        return [r.description for r in reversed(self._redo)]

    def push(self, record: EditRecord) -> None:
        """Add a new edit: the redo branch is dropped, then old steps go if over budget."""
        self._redo.clear()
        self._undo.append(record)
        self._trim()

    def pop_undo(self) -> EditRecord | None:
        if not self._undo:
            return None
        record = self._undo.pop()
        self._redo.append(record)
        return record

    def pop_redo(self) -> EditRecord | None:
        if not self._redo:
            return None
        record = self._redo.pop()
        self._undo.append(record)
        return record

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    def _trim(self) -> None:
        total = sum(r.nbytes for r in self._undo)
        dropped = 0
        while self._undo and (total > self.max_bytes or len(self._undo) > self.max_steps):
            if len(self._undo) == 1:
                break  # always keep the edit just made undoable
            total -= self._undo.pop(0).nbytes
            dropped += 1
        if dropped:
            log.info("edit history over its budget: forgot the %d oldest step(s)", dropped)
