"""Layers of the viewer: the image, label maps and scalar heatmaps, as evented Qt-free objects.

Every layer holds an ``engine.volume.Volume``. Overlays are shown on the image layer's grid:
an overlay on the same grid is displayed through a strided view of its own array (no copy, so
in-place edits show after ``layer.refresh()``); an overlay on another grid is resampled once when
it is added.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from psygnal import Signal, SignalGroup, SignalGroupDescriptor

from engine.errors import InputError
from engine.labels import LabelTable, volume_ml
from engine.volume import Volume
from viewer.state.label_counts import LabelCounts as _LabelCounts
from viewer.state.provenance import (
    LayerProvenance,
    Role,
    from_metadata,
    role_from_metadata,
)

log = logging.getLogger(__name__)

#: Colormaps a heatmap layer can use (names pyqtgraph and matplotlib both know).
HEATMAP_COLORMAPS = ("inferno", "magma", "plasma", "viridis", "turbo", "hot", "jet")


class LayerEvents(SignalGroup):
    """Events of a layer besides its fields' (``name``, ``visible``, ``opacity``, ``role``,
    ``provenance``: psygnal adds one signal per field, emitting ``(new, old)``)."""

    data = Signal()    # the array's contents changed (edits): views re-slice
    style = Signal()   # colours, colormap, value range or per-label visibility changed


@dataclass(eq=False, init=False, repr=False)
class Layer:
    """Base of all layers: a volume with a name, visibility, opacity, role and provenance.

    An evented dataclass: setting a field emits ``events.<field>`` when the (checked) value
    changed. ``role`` and ``provenance`` default to what the volume's metadata says (files and
    engine results describe themselves there); afterwards the typed fields are the truth.
    """

    name: str
    visible: bool
    opacity: float
    role: Role
    provenance: LayerProvenance
    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor(signal_group_class=LayerEvents)
    kind: ClassVar[str] = "layer"

    def __init__(self, volume: Volume, name: str, opacity: float = 1.0, visible: bool = True,
                 role: Role | None = None, provenance: LayerProvenance | None = None) -> None:
        self._volume = volume
        self.name, self.opacity, self.visible = name, opacity, visible
        self.provenance = provenance if provenance is not None else from_metadata(volume.metadata)
        self.role = role if role is not None else role_from_metadata(volume.metadata, self.kind,
                                                                     self.provenance)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "opacity":
            value = float(np.clip(value, 0.0, 1.0))
        elif name == "visible":
            value = bool(value)
        elif name == "role":
            value = Role(value)
        super().__setattr__(name, value)

    @property
    def volume(self) -> Volume:
        """The volume on show (an overlay on another grid is replaced by its resampled copy when
        it is added to a :class:`LayerList`)."""
        return self._volume

    @volume.setter
    def volume(self, value: Volume) -> None:
        self._volume = value
        self._volume_replaced()

    def _volume_replaced(self) -> None:
        """Hook: anything bound to the old array rebinds here."""

    def export_provenance(self):
        """The exporter's :class:`engine.export.options.Provenance` of this layer."""
        return self.provenance.export_provenance(self.role)

    @property
    def array(self) -> np.ndarray:
        return self.volume.array

    def refresh(self) -> None:
        """Tell the views that ``volume.array`` was changed in place."""
        self.events.data.emit()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ImageLayer(Layer):
    """The grey-scale image every other layer is drawn on."""

    kind: ClassVar[str] = "image"


class LabelsLayer(Layer):
    """A label map (segmentation) with its label table and per-label visibility."""

    kind: ClassVar[str] = "labels"

    def __init__(self, volume: Volume, table: LabelTable | None = None, name: str = "Labels",
                 opacity: float = 0.5, visible: bool = True, role: Role | None = None,
                 provenance: LayerProvenance | None = None) -> None:
        if volume.array.dtype.kind not in "iub":
            raise InputError("a label map must hold integers (label ids)")
        super().__init__(volume, name, opacity, visible, role, provenance)
        self.table = table if table is not None else LabelTable()
        self._hidden: set[int] = set()
        self._counts = _LabelCounts(volume.array)

    def _volume_replaced(self) -> None:
        self._counts = _LabelCounts(self.volume.array)   # count the array shown and edited
        self.events.data.emit()

    def refresh(self, region: tuple[slice, ...] | None = None) -> None:
        """Tell the views that ``volume.array`` was changed in place.

        ``region`` (slices of the array that bound the change, as editing tools know them) lets the
        label volumes be recounted on the changed slices only: a brush dab on a 512×512×400 map
        then costs a few slices, not a whole-volume count.
        """
        self._counts.invalidate(None if region is None else region[0])
        super().refresh()

    @property
    def label_ids(self) -> list[int]:
        """Ids present in the table or in the data (background 0 excluded)."""
        present = np.nonzero(self._voxel_counts())[0]
        return sorted({info.id for info in self.table} | {int(i) for i in present if i > 0})

    def label_visible(self, label_id: int) -> bool:
        return label_id not in self._hidden

    def set_label_visible(self, label_id: int, visible: bool) -> None:
        before = set(self._hidden)
        (self._hidden.discard if visible else self._hidden.add)(int(label_id))
        if before != self._hidden:
            self.events.style.emit()

    def set_table(self, table: LabelTable) -> None:
        self.table = table
        self.events.style.emit()

    def color(self, label_id: int) -> tuple[int, int, int]:
        return self.table.get(label_id).color

    def _voxel_counts(self) -> np.ndarray:
        return self._counts.totals()

    def volume_ml(self, label_id: int) -> float:
        counts = self._voxel_counts()
        n = int(counts[label_id]) if 0 <= label_id < counts.size else 0
        return volume_ml(n, self.volume.geometry.voxel_volume_ml)

    def lut(self, max_id: int | None = None) -> np.ndarray:
        """RGBA uint8 lookup table indexed by label id (0 and hidden labels transparent)."""
        top = max(max_id or 0, max(self.label_ids, default=0))
        n = 256 if top < 256 else top + 1
        lut = np.zeros((n, 4), np.uint8)
        for label_id in self.label_ids:
            if label_id < n and label_id not in self._hidden:
                lut[label_id, :3] = self.color(label_id)
                lut[label_id, 3] = 255
        return lut


class HeatmapLayer(Layer):
    """A scalar map on the image (saliency, uncertainty, probability) drawn with a colormap."""

    kind: ClassVar[str] = "heatmap"

    def __init__(self, volume: Volume, name: str = "Heatmap", colormap: str = "inferno",
                 value_range: tuple[float, float] | None = None, opacity: float = 0.5,
                 visible: bool = True, provenance: LayerProvenance | None = None) -> None:
        super().__init__(volume, name, opacity, visible, Role.HEATMAP, provenance)
        self._colormap = self._check_colormap(colormap)
        self._range = tuple(value_range) if value_range is not None else self._data_range()

    @staticmethod
    def _check_colormap(name: str) -> str:
        if name not in HEATMAP_COLORMAPS:
            raise InputError(f"unknown colormap {name!r}; choose one of {', '.join(HEATMAP_COLORMAPS)}")
        return name

    def _data_range(self) -> tuple[float, float]:
        arr = self.volume.array
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        return (lo, hi if hi > lo else lo + 1.0)

    @property
    def colormap(self) -> str:
        return self._colormap

    @colormap.setter
    def colormap(self, name: str) -> None:
        name = self._check_colormap(name)
        if name != self._colormap:
            self._colormap = name
            self.events.style.emit()

    @property
    def value_range(self) -> tuple[float, float]:
        return self._range  # type: ignore[return-value]

    @value_range.setter
    def value_range(self, value: tuple[float, float]) -> None:
        lo, hi = float(value[0]), float(value[1])
        if hi <= lo:
            raise InputError("a heatmap's range needs its maximum above its minimum")
        if (lo, hi) != self._range:
            self._range = (lo, hi)
            self.events.style.emit()


class LayerListEvents(SignalGroup):
    inserted = Signal(int, object)   # index, layer
    removed = Signal(int, object)
    reordered = Signal()
    active = Signal(object)          # the selected layer (or None)


class LayerList:
    """The ordered layers (index 0 drawn first, i.e. at the bottom) and the public way to add them."""

    def __init__(self) -> None:
        self.events = LayerListEvents()
        self._layers: list[Layer] = []
        self._active: Layer | None = None

    # Sequence protocol ----------------------------------------------------------------------
    def __iter__(self):
        return iter(list(self._layers))

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> Layer:
        return self._layers[index]

    def __contains__(self, layer: object) -> bool:
        return layer in self._layers

    def index(self, layer: Layer) -> int:
        return self._layers.index(layer)

    # Queries --------------------------------------------------------------------------------
    @property
    def image(self) -> ImageLayer | None:
        """The base image layer (the first one)."""
        return next((l for l in self._layers if isinstance(l, ImageLayer)), None)

    def of_kind(self, cls: type) -> list[Any]:
        return [l for l in self._layers if isinstance(l, cls)]

    @property
    def active(self) -> Layer | None:
        return self._active

    @active.setter
    def active(self, layer: Layer | None) -> None:
        if layer is not None and layer not in self._layers:
            raise ValueError("that layer is not in the list")
        if layer is not self._active:
            self._active = layer
            self.events.active.emit(layer)

    @property
    def active_labels(self) -> LabelsLayer | None:
        """The selected label layer, else the top-most one (what editors and exporters act on)."""
        if isinstance(self._active, LabelsLayer):
            return self._active
        labels = self.of_kind(LabelsLayer)
        return labels[-1] if labels else None

    # Adding and removing --------------------------------------------------------------------
    def append(self, layer: Layer) -> Layer:
        if layer.kind != "image" and self.image is not None:
            layer.volume = self._on_image_grid(layer.volume, labels=layer.kind == "labels")
        self._layers.append(layer)
        self.events.inserted.emit(len(self._layers) - 1, layer)
        if layer.kind != "image" or self._active is None:
            self.active = layer
        return layer

    def add_image(self, volume: Volume, name: str | None = None) -> ImageLayer:
        return self.append(ImageLayer(volume, name or _default_name(volume, "Image")))  # type: ignore[return-value]

    def add_labels(self, volume: Volume, table: LabelTable | None = None, name: str = "Labels",
                   opacity: float = 0.5, role: Role | None = None,
                   provenance: LayerProvenance | None = None) -> LabelsLayer:
        """Add a label map (any integer dtype; uint8/uint16 display fastest and edit in place)."""
        return self.append(LabelsLayer(volume, table, name=name, opacity=opacity,  # type: ignore[return-value]
                                       role=role, provenance=provenance))

    def add_heatmap(self, volume: Volume, name: str = "Heatmap", colormap: str = "inferno",
                    value_range: tuple[float, float] | None = None, opacity: float = 0.5,
                    provenance: LayerProvenance | None = None) -> HeatmapLayer:
        return self.append(HeatmapLayer(volume, name=name, colormap=colormap,  # type: ignore[return-value]
                                        value_range=value_range, opacity=opacity,
                                        provenance=provenance))

    def remove(self, layer: Layer) -> None:
        index = self._layers.index(layer)
        del self._layers[index]
        if self._active is layer:
            self.active = self._layers[-1] if self._layers else None
        self.events.removed.emit(index, layer)

    def clear(self) -> None:
        for layer in reversed(list(self._layers)):
            self.remove(layer)

    def move(self, layer: Layer, new_index: int) -> None:
        if isinstance(layer, ImageLayer) or new_index < 1:
            raise ValueError("the image stays at the bottom")
        self._layers.remove(layer)
        self._layers.insert(min(new_index, len(self._layers)), layer)
        self.events.reordered.emit()

    def _on_image_grid(self, volume: Volume, labels: bool) -> Volume:
        reference = self.image.volume.geometry  # type: ignore[union-attr]
        if volume.geometry.is_close(reference):
            return volume
        log.info("overlay is on another grid; resampling it onto the image")
        from viewer.state.orientation import resample_onto

        return resample_onto(volume, reference, labels=labels)


def _default_name(volume: Volume, fallback: str) -> str:
    desc = volume.metadata.get("series_description")
    return f"{volume.modality} {desc}" if desc else f"{volume.modality} {fallback}".strip()
