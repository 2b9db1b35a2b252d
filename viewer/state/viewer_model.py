"""The viewer's whole state, Qt-free: layers, crosshair, window/level and layout.

Other features add layers through ``model.layers`` (see docs/ARCHITECTURE.md, "Viewer state"):
``add_labels(volume, table, name=…)``, ``add_heatmap(volume, name=…, colormap=…, value_range=…)``,
``active_labels``, ``remove(layer)``; they listen to ``model.events.image`` to learn that a new
study replaced the old one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from psygnal import Signal, SignalGroup, SignalGroupDescriptor

from engine.volume import Volume
from viewer.state.cursor import Cursor
from viewer.state.layers import Layer, LayerList
from viewer.state.orientation import DisplayGrid
from viewer.state.window import (
    HEADER_CLIP_LIMIT,
    MR_AUTO,
    WindowLevel,
    clipped_fraction,
    preset,
    preset_for_key,
)

log = logging.getLogger(__name__)

LAYOUTS = ("1x3", "2x2", "single")
VIEWS = ("axial", "coronal", "sagittal", "3d")


class ViewerEvents(SignalGroup):
    """Events besides the fields' (``layout``, ``focused``: one signal each, emitting
    ``(new, old)``)."""

    image = Signal(object)      # the new base image layer (or None when closed)
    reset = Signal()            # Home: views reset zoom/pan


@dataclass(eq=False, init=False, repr=False)
class ViewerModel:
    """Everything the views show; views subscribe to its events and keep no state of their own.

    ``layout`` (one of :data:`LAYOUTS`) and ``focused`` (the view the "single" layout shows, one
    of :data:`VIEWS`) are evented dataclass fields, checked when set.
    """

    layout: str
    focused: str
    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor(signal_group_class=ViewerEvents)

    def __init__(self) -> None:
        self.layers = LayerList()
        self.cursor = Cursor()
        self.window = WindowLevel()
        self.grid: DisplayGrid | None = None
        self.layout, self.focused = "1x3", "axial"
        self._previous_layout = "1x3"
        self.layers.events.removed.connect(self._on_removed)

    def __setattr__(self, name: str, value) -> None:
        if name == "layout" and value not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}")
        if name == "focused" and value not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}")
        super().__setattr__(name, value)

    # The study ------------------------------------------------------------------------------
    def open_volume(self, volume: Volume, name: str | None = None):
        """Replace whatever is shown by ``volume`` (drops all overlays) and return its image layer."""
        self.layers.clear()
        self.grid = DisplayGrid.for_geometry(volume.geometry)
        layer = self.layers.add_image(volume, name)
        self.cursor.reset(self.grid)
        note = self.apply_default_window()
        self.events.image.emit(layer)
        if note:
            self.window.events.note.emit(note)
        return layer

    @property
    def image(self):
        return self.layers.image

    @property
    def modality(self) -> str:
        return self.image.volume.modality.upper() if self.image is not None else ""

    def display(self, layer: Layer) -> np.ndarray:
        """``layer``'s array on the display grid (a view; see viewer.state.orientation)."""
        assert self.grid is not None, "no image is open"
        return self.grid.view(layer.volume.array)

    def _on_removed(self, _index: int, layer: Layer) -> None:
        if self.layers.image is None and self.grid is not None:
            self.grid = None
            self.cursor.reset(None)
            self.events.image.emit(None)

    # Window/level ---------------------------------------------------------------------------
    def apply_default_window(self) -> str | None:
        """The header's window, a CT preset or MR auto; a sentence when a header window that clips
        the image (see viewer.state.window) was replaced by MR auto, else None."""
        volume = self.image.volume
        header = volume.metadata.get("window_presets") or []
        if header:
            center, width = header[0]
            clipped = 0.0 if volume.modality.upper() == "CT" else clipped_fraction(self.display(self.image),
                                                                                     center, width)
            if clipped <= HEADER_CLIP_LIMIT:
                self.window.set(center, width, "Header")
                return None
            self.window.apply(MR_AUTO, self.display(self.image))
            return (f"The series' stored window (W {width:g} / L {center:g}) shows {clipped:.0%} of the "
                    f"image as flat white or black; starting from the automatic window ({MR_AUTO.name}).")
        if volume.modality.upper() == "CT":
            body = str(volume.metadata.get("body_part", "")).upper()
            name = "CT brain" if (not body or "HEAD" in body or "BRAIN" in body) else "CT abdomen"
            self.window.apply(preset(name))
        else:
            self.window.apply(MR_AUTO, self.display(self.image))
        return None

    def apply_preset(self, name: str) -> None:
        self.window.apply(preset(name), self.display(self.image) if self.image else None)

    def apply_preset_key(self, key: str) -> bool:
        """Keys 1–5: the modality's presets. Returns False when the key means nothing here."""
        p = preset_for_key(self.modality, key)
        if p is None or self.image is None:
            return False
        self.window.apply(p, self.display(self.image))
        return True

    # Layout ---------------------------------------------------------------------------------
    def toggle_maximise(self, view: str) -> None:
        """Double-click: show ``view`` alone, or go back to the previous multi-view layout."""
        if self.layout == "single" and self.focused == view:
            self.layout = self._previous_layout
        else:
            if self.layout != "single":
                self._previous_layout = self.layout
            self.focused = view
            self.layout = "single"

    def reset(self) -> None:
        """Home: crosshair to the centre, default window, views refit."""
        if self.grid is not None:
            self.cursor.reset(self.grid)
            self.apply_default_window()
        self.events.reset.emit()
