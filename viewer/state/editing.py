"""Edit tools' state, Qt-free: active tool, brush size, active label, 3-D brush, intensity window.

Also the bridge between the viewer's label layers and the engine's :class:`LabelEditor`:
:class:`LayerEditing` keeps one editor per editable layer, converts display-grid indices to the
layer's own voxel indices, and knows which AI layer each corrected layer was copied from. AI
layers are never edited: painting on one first copies it into a "corrected" layer.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from psygnal import Signal, SignalGroup, SignalGroupDescriptor

from engine.editing import Brush, LabelEditor
from engine.errors import InputError
from engine.labels import LabelTable
from viewer.state.layers import LabelsLayer
from viewer.state.provenance import LayerProvenance, Role

log = logging.getLogger(__name__)

#: Brush diameters (mm) that ``[`` and ``]`` step through.
BRUSH_SIZES_MM = (0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0)
TOOLS = ("navigate", "brush", "eraser", "threshold", "fill")


@dataclass(eq=False)
class EditingState:
    """What the edit tools do, shared by the tool palette, the menus and the tools themselves.

    An evented dataclass: setting a field emits ``events.<field>`` with the new value when it
    changed (psygnal); ``__setattr__`` checks and normalises the value first (tool names, the
    brush-size range, labels ≥ 1, an ordered threshold window).
    """

    tool: str = "navigate"
    brush_size_mm: float = 5.0        # brush diameter in mm
    sphere: bool = False              # 3-D brush (a sphere through neighbouring slices)
    active_label: int = 1
    window: tuple[float, float] = (0.0, 100.0)   # intensity window of threshold painting
    inverted: bool = False            # Ctrl held: the brush erases and the eraser paints
    overwrite: bool = True            # painting may replace other labels
    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _checked(name, value))

    def bigger(self) -> None:
        """``]``: the next size up."""
        self.brush_size_mm = next((s for s in BRUSH_SIZES_MM if s > self.brush_size_mm + 1e-9),
                                  BRUSH_SIZES_MM[-1])

    def smaller(self) -> None:
        """``[``: the next size down."""
        self.brush_size_mm = next((s for s in reversed(BRUSH_SIZES_MM)
                                   if s < self.brush_size_mm - 1e-9), BRUSH_SIZES_MM[0])

    def brush(self, plane_axis: int, erase: bool | None = None) -> Brush:
        """The engine brush for the current settings in a view whose constant source axis is
        ``plane_axis``; the eraser (or Ctrl) erases the active label."""
        if erase is None:
            erase = (self.tool == "eraser") != self.inverted
        window = self.window if self.tool == "threshold" and not erase else None
        return Brush(self.brush_size_mm / 2.0, self.active_label,
                     None if self.sphere else plane_axis, erase=erase, window=window,
                     overwrite=self.overwrite)


def _checked(name: str, value: Any) -> Any:
    """An :class:`EditingState` field's value, checked and normalised."""
    if name == "tool" and value not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}")
    if name == "brush_size_mm":
        return float(np.clip(value, BRUSH_SIZES_MM[0], BRUSH_SIZES_MM[-1]))
    if name in ("sphere", "inverted", "overwrite"):
        return bool(value)
    if name == "active_label":
        if int(value) < 1:
            raise InputError("the active label must be 1 or more (0 is background)")
        return int(value)
    if name == "window":
        lo, hi = float(value[0]), float(value[1])
        return (hi, lo) if hi < lo else (lo, hi)
    return value


class LayerEditingEvents(SignalGroup):
    edited = Signal(object)        # the layer whose voxels changed (once per mouse event/edit)
    table = Signal(object)         # the layer whose label table changed
    committed = Signal(object)     # a stroke on this layer ended (its undo step now exists)


class LayerEditing:
    """One :class:`LabelEditor` per editable label layer, and the AI layer each one corrects."""

    def __init__(self, layers) -> None:
        self.events = LayerEditingEvents()
        self.layers = layers  # viewer.state.layers.LayerList
        self._editors: weakref.WeakKeyDictionary[LabelsLayer, LabelEditor] = weakref.WeakKeyDictionary()
        #: corrected layer → weakref to the AI layer it corrects
        self._sources: weakref.WeakKeyDictionary[LabelsLayer, Any] = weakref.WeakKeyDictionary()
        self._editable: weakref.WeakSet = weakref.WeakSet()
        self._batch_depth = 0
        self._dirty: dict[LabelsLayer, slice] = {}
        self.layers.events.removed.connect(self._forget)

    # Which layers are editable --------------------------------------------------------------
    def is_editable(self, layer) -> bool:
        return layer in self._editable

    def mark_editable(self, layer: LabelsLayer, ai_source: LabelsLayer | None = None) -> None:
        self._editable.add(layer)
        if ai_source is not None:
            self._sources[layer] = weakref.ref(ai_source)

    def ai_source(self, layer) -> LabelsLayer | None:
        ref = self._sources.get(layer)
        return ref() if ref is not None else None

    @property
    def editable_layers(self) -> list[LabelsLayer]:
        return [l for l in self.layers.of_kind(LabelsLayer) if l in self._editable]

    def copy_to_corrected(self, ai_layer: LabelsLayer) -> LabelsLayer:
        """A new editable layer holding a copy of ``ai_layer`` (which stays untouched)."""
        volume = ai_layer.volume
        labels = np.array(volume.array, copy=True, order="C")
        if labels.dtype.kind != "u" or labels.dtype.itemsize > 2:
            labels = labels.astype(np.uint16 if labels.max(initial=0) > 255 else np.uint8)
        metadata = {**volume.metadata, "role": "corrected", "provenance": "corrected",
                    "edited": True}  # export writes SEMIAUTOMATIC segments with the AI's model
        corrected = volume.with_array(labels, metadata=metadata)
        role = Role.CORRECTED if ai_layer.provenance.has_model else Role.MANUAL
        layer = LabelsLayer(corrected, LabelTable(list(ai_layer.table)),
                            name=f"{ai_layer.name} (corrected)", opacity=ai_layer.opacity,
                            role=role, provenance=ai_layer.provenance)
        self.mark_editable(layer, ai_layer)
        ai_layer.visible = False
        self.layers.append(layer)
        return layer

    def add_editable(self, volume, table: LabelTable | None, name: str,
                     ai_source: LabelsLayer | None = None, role: Role | None = None,
                     provenance: LayerProvenance | None = None) -> LabelsLayer:
        """Add an editable label layer holding ``volume`` (e.g. restored from an autosave).

        Without ``provenance`` it is the AI source's (a correction names the model it corrects)."""
        if not volume.array.flags.c_contiguous or not volume.array.flags.writeable:
            volume = volume.with_array(np.array(volume.array, copy=True, order="C"))
        if provenance is None:
            provenance = ai_source.provenance if ai_source is not None else LayerProvenance()
        if role is None or not Role(role).editable:
            role = Role.CORRECTED if provenance.has_model else Role.MANUAL
        layer = LabelsLayer(volume, table, name=name, role=role, provenance=provenance)
        self.mark_editable(layer, ai_source)
        self.layers.append(layer)
        return layer

    def new_layer(self, name: str = "Manual labels", table: LabelTable | None = None) -> LabelsLayer:
        """An empty editable label layer on the image's grid."""
        image = self.layers.image
        if image is None:
            raise InputError("open a scan before adding a label layer")
        volume = image.volume.with_array(np.zeros(image.volume.geometry.shape, np.uint8),
                                          metadata={"role": "corrected", "provenance": "manual"})
        layer = LabelsLayer(volume, table, name=name, role=Role.MANUAL, provenance=LayerProvenance())
        self.mark_editable(layer)
        self.layers.append(layer)
        return layer

    def editable_target(self) -> LabelsLayer | None:
        """The layer edits go to: the active labels layer if editable, else a corrected copy of it
        (made now), else a new empty layer."""
        active = self.layers.active_labels
        if active is not None and self.is_editable(active):
            return active
        if active is not None:
            existing = next((l for l in self.editable_layers if self.ai_source(l) is active), None)
            if existing is not None:
                self.layers.active = existing
                return existing
            return self.copy_to_corrected(active)
        if self.layers.image is None:
            return None
        return self.new_layer()

    # Editors --------------------------------------------------------------------------------
    def editor(self, layer: LabelsLayer) -> LabelEditor:
        """The editor of an editable layer (created on first use, shared afterwards)."""
        if not self.is_editable(layer):
            raise InputError(f"{layer.name} is an AI result and is never edited; copy it to a "
                             "corrected layer first")
        editor = self._editors.get(layer)
        if editor is None:
            image = self.layers.image
            editor = LabelEditor(layer.volume.array, layer.volume.geometry.spacing, layer.table,
                                 image=image.volume.array if image is not None else None)
            editor.on_change(lambda bbox, l=layer, e=editor: self._changed(l, e, bbox))
            self._editors[layer] = editor
        return editor

    def existing_editor(self, layer) -> LabelEditor | None:
        return self._editors.get(layer)

    def ensure_label(self, layer: LabelsLayer, label_id: int) -> None:
        """Give ``label_id`` a name and colour before it is painted, so it shows at once."""
        editor = self.editor(layer)
        if label_id not in editor.table:
            editor.table = LabelTable([*editor.table, editor.table.get(label_id)])
            layer.set_table(editor.table)
            self.events.table.emit(layer)

    def end_stroke(self, layer: LabelsLayer) -> None:
        """Finish the stroke in progress on ``layer``: one undo step for the whole stroke."""
        editor = self._editors.get(layer)
        if editor is not None and editor.in_stroke:
            editor.end_stroke()
            self.events.committed.emit(layer)

    def batch(self) -> _Batch:
        """Context manager: views refresh once at the end instead of after every dab."""
        return _Batch(self)

    def _changed(self, layer: LabelsLayer, editor: LabelEditor, bbox) -> None:
        if bbox is None:
            if editor.table is not layer.table:
                layer.set_table(editor.table)
            self.events.table.emit(layer)
            self.events.edited.emit(layer)
        elif self._batch_depth:
            self._dirty[layer] = _union_rows(self._dirty.get(layer), bbox[0])
        else:
            layer.refresh(bbox)
            self.events.edited.emit(layer)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for layer, rows in dirty.items():
            layer.refresh((rows,))
            self.events.edited.emit(layer)

    def _forget(self, _index: int, layer) -> None:
        self._editors.pop(layer, None)
        self._sources.pop(layer, None)

    # Coordinates ----------------------------------------------------------------------------
    @staticmethod
    def to_source(grid, zyx) -> tuple[float, float, float]:
        """Display-grid index ``(s, p, l)`` → the layer array's own index ``(k, j, i)``."""
        source = [0.0, 0.0, 0.0]
        shape = grid.shape
        for axis, value in enumerate(zyx):
            src_axis = grid.transpose[axis]
            source[src_axis] = (shape[axis] - 1 - value) if grid.flips[axis] else value
        return tuple(source)

    @staticmethod
    def source_axis(grid, display_axis: int) -> int:
        """The layer array's axis that a view along ``display_axis`` holds constant."""
        return int(grid.transpose[display_axis])


class _Batch:
    def __init__(self, owner: LayerEditing) -> None:
        self.owner = owner

    def __enter__(self) -> LayerEditing:
        self.owner._batch_depth += 1
        return self.owner

    def __exit__(self, *exc) -> None:
        self.owner._batch_depth -= 1
        if self.owner._batch_depth == 0:
            self.owner._flush()


def _union_rows(a: slice | None, b: slice) -> slice:
    """The smallest slice (step 1) covering both ``a`` and ``b``."""
    return b if a is None else slice(min(a.start, b.start), max(a.stop, b.stop))
