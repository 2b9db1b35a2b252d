"""The label editor: one editable label map, every edit tool, and its undo history.

Tools in the viewer translate mouse events into these calls; nothing here knows about Qt. Edits
change ``editor.labels`` in place and tell listeners the bounding box that changed, so a view can
redraw only that part. The AI's own output is never edited: :meth:`LabelEditor.from_ai` copies it
into a new "corrected" array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np

from engine.editing import label_ops
from engine.editing.brush import Brush, apply_dab
from engine.editing.fill import flood_region
from engine.editing.footprint import spacing_kji
from engine.editing.history import Box, EditHistory, EditRecord, StrokeRecorder
from engine.editing.interpolate import fill_between, interpolation_box
from engine.errors import InputError
from engine.labels import LabelInfo, LabelTable

log = logging.getLogger(__name__)

ChangeListener = Callable[[Box | None], None]


class LabelEditor:
    """Edits ``labels`` (a C-contiguous integer array ``[k, j, i]``) with undo/redo.

    ``spacing`` is the volume's ``(i, j, k)`` spacing in mm; ``image`` (same shape) is needed for
    threshold-limited painting and windowed fills.
    """

    def __init__(self, labels: np.ndarray, spacing, table: LabelTable | None = None, *,
                 image: np.ndarray | None = None, history: EditHistory | None = None) -> None:
        if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
            raise InputError("a label map must be a 3-D array of integers")
        if not labels.flags.c_contiguous or not labels.flags.writeable:
            raise InputError("the label map to edit must be a writable, contiguous array")
        if image is not None and image.shape != labels.shape:
            raise InputError(f"image shape {image.shape} differs from label shape {labels.shape}")
        self.labels = labels
        self.spacing = spacing_kji(spacing)
        self.table = table or LabelTable()
        self.image = image
        self.history = history or EditHistory()
        self.generation = 0
        self._listeners: list[ChangeListener] = []
        self._stroke: StrokeRecorder | None = None
        self._last_center: np.ndarray | None = None

    @classmethod
    def from_ai(cls, ai_labels: np.ndarray, spacing, table: LabelTable | None = None,
                **kwargs) -> LabelEditor:
        """An editor on a copy of the AI's label map: the AI output itself stays untouched."""
        return cls(np.array(ai_labels, copy=True, order="C"), spacing,
                   LabelTable(list(table)) if table is not None else None, **kwargs)

    # Listeners ------------------------------------------------------------------------------
    def on_change(self, fn: ChangeListener) -> None:
        """Call ``fn(bbox)`` after every change (``bbox`` is ``None`` for a label-table change)."""
        self._listeners.append(fn)

    def disconnect(self, fn: ChangeListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _changed(self, bbox: Box | None) -> None:
        self.generation += 1
        for fn in list(self._listeners):
            fn(bbox)

    # Brush strokes --------------------------------------------------------------------------
    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    def begin_stroke(self, description: str = "Paint") -> None:
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = StrokeRecorder(description, self.labels.shape)
        self._last_center = None

    def dab(self, center_kji, brush: Brush) -> Box | None:
        """One dab at ``center_kji`` (voxel index); joins the stroke in progress, if any."""
        self._check_label(brush.label)
        single = self._stroke is None
        if single:
            self.begin_stroke("Erase" if brush.erase else "Paint")
        result = apply_dab(self.labels, center_kji, brush, self.spacing, self.image)
        if result is not None:
            box, mask, old = result
            self._stroke.add(box, mask, old)
            self._changed(box)
        if single:
            self.end_stroke()
        return None if result is None else result[0]

    def stroke_to(self, center_kji, brush: Brush) -> None:
        """Dab at ``center_kji`` and along the segment from the previous dab, leaving no gaps."""
        center = np.asarray(center_kji, dtype=np.float64)
        if self._stroke is None:
            self.begin_stroke("Erase" if brush.erase else "Paint")
        previous, self._last_center = self._last_center, center
        if previous is None:
            self.dab(center, brush)
            return
        step_mm = max(brush.radius_mm / 2.0, min(self.spacing) / 2.0)
        length_mm = float(np.linalg.norm((center - previous) * np.asarray(self.spacing)))
        steps = max(1, int(np.ceil(length_mm / step_mm)))
        for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
            self.dab(previous + t * (center - previous), brush)

    def end_stroke(self) -> EditRecord | None:
        stroke, self._stroke = self._stroke, None
        self._last_center = None
        if stroke is None:
            return None
        record = stroke.finish(self.labels)
        if record is not None:
            self.history.push(record)
        return record

    def paint_points(self, points: Iterable, brush: Brush, description: str | None = None) -> EditRecord | None:
        """A whole stroke through ``points`` (voxel indices) as one undo step."""
        self.begin_stroke(description or ("Erase" if brush.erase else "Paint"))
        for p in points:
            self.stroke_to(p, brush)
        return self.end_stroke()

    # Region edits ---------------------------------------------------------------------------
    def flood_fill(self, seed_kji, axis: int, label: int,
                   window: tuple[float, float] | None = None) -> EditRecord | None:
        """Fill the connected same-valued region around ``seed_kji`` in its slice with ``label``."""
        self._check_label(label)
        self.end_stroke()
        box, mask = flood_region(self.labels, seed_kji, axis, image=self.image, window=window)
        if not mask.any():
            return None
        return self._region_edit("Fill", box, lambda region: region.__setitem__(mask, label))

    def fill_between_slices(self, label: int, axis: int) -> EditRecord | None:
        """Interpolate ``label`` across the slices skipped between drawn ones (along ``axis``)."""
        self.end_stroke()
        box = interpolation_box(self.labels, label, axis)
        if box is None:
            return None
        name = self.table.get(label).name
        return self._region_edit(f"Fill between slices ({name})", box,
                                 lambda region: fill_between(region, label, axis, self.spacing))

    def _region_edit(self, description: str, box: Box, edit: Callable[[np.ndarray], object],
                     table_after: LabelTable | None = None) -> EditRecord | None:
        old = self.labels[box].copy()
        edit(self.labels[box])
        before = self.table if table_after is not None else None
        record = EditRecord.from_change(description, self.labels, box, old, before, table_after)
        if table_after is not None:
            self.table = table_after
        if record.voxels == 0 and table_after is None:
            return None
        self.history.push(record)
        if table_after is not None:
            self._changed(None)
        self._changed(box)
        return record

    # Labels ---------------------------------------------------------------------------------
    def add_label(self, name: str | None = None, color=None) -> LabelInfo:
        used = set(np.unique(self.labels).tolist()) - {0}
        after, info = label_ops.add_label(self.table, name, color, used=used)
        self._check_label(info.id)
        self._table_edit(f"Add label {info.name}", after)
        return info

    def rename_label(self, label_id: int, name: str) -> None:
        self._table_edit(f"Rename label {label_id}", label_ops.rename_label(self.table, label_id, name))

    def recolour_label(self, label_id: int, color) -> None:
        self._table_edit(f"Recolour {self.table.get(label_id).name}",
                         label_ops.recolour_label(self.table, label_id, color))

    def remove_label(self, label_id: int) -> EditRecord | None:
        """Remove a label from the table and clear its voxels (one undo step)."""
        self.end_stroke()
        after = label_ops.remove_label(self.table, label_id)
        coords = np.nonzero(self.labels == label_id)
        if coords[0].size == 0:
            return self._table_edit(f"Remove label {self.table[label_id].name}", after)
        box = tuple(slice(int(c.min()), int(c.max()) + 1) for c in coords)

        def clear(region: np.ndarray) -> None:
            region[region == label_id] = 0

        return self._region_edit(f"Remove label {self.table[label_id].name}", box, clear, after)

    def _table_edit(self, description: str, after: LabelTable) -> EditRecord:
        self.end_stroke()
        record = EditRecord.table_only(description, self.table, after)
        self.table = after
        self.history.push(record)
        self._changed(None)
        return record

    # Undo -----------------------------------------------------------------------------------
    def undo(self) -> EditRecord | None:
        self.end_stroke()
        return self._replay(self.history.pop_undo(), undo=True)

    def redo(self) -> EditRecord | None:
        self.end_stroke()
        return self._replay(self.history.pop_redo(), undo=False)

    def _replay(self, record: EditRecord | None, undo: bool) -> EditRecord | None:
        if record is None:
            return None
        record.apply(self.labels, undo)
        table = record.table_before if undo else record.table_after
        if table is not None:
            self.table = table
            self._changed(None)
        if record.bbox is not None:
            self._changed(record.bbox)
        return record

    # Helpers --------------------------------------------------------------------------------
    def _check_label(self, label: int) -> None:
        top = np.iinfo(self.labels.dtype).max
        if not 0 <= label <= top:
            raise InputError(f"label {label} does not fit this label map (ids 0..{top})")
