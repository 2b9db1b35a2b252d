"""The central reading area: the three slice views and the 3D view, in the model's layout."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QWidget

from viewer.qt.colorbar import ColorBar
from viewer.qt.slice_view import VIEW_COLOR, SliceView
from viewer.state.viewer_model import ViewerModel

log = logging.getLogger(__name__)

#: layout → rows of views; "single" shows ``model.focused`` alone.
GRIDS = {"1x3": [["axial", "coronal", "sagittal"]],
         "2x2": [["axial", "3d"], ["coronal", "sagittal"]]}


class _Frame(QFrame):
    """A thin coloured border around each view (3D Slicer's colour coding).

    Created hidden, with its parent: a parentless frame that is shown becomes a top-level window
    for a moment, and the layout's reparenting then hides it until a queued show (the 3D view was
    initialised on that short-lived window and missed the label layers added meanwhile).
    """

    def __init__(self, widget: QWidget, view: str, parent: QWidget,
                 colorbar: ColorBar | None = None) -> None:
        super().__init__(parent)
        self.hide()
        self.setObjectName(f"frame_{view}")
        self.setStyleSheet(f"#frame_{view} {{ border: 1px solid {VIEW_COLOR[view]}; background: black; }}")
        self.colorbar = colorbar
        lay = QHBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        lay.addWidget(widget, 1)
        if colorbar is not None:    # the heatmap legend, right of the view (hidden without one)
            lay.addWidget(colorbar)


class ViewerWidget(QWidget):
    """Slice views + (lazily) the 3D view, arranged as 1×3, 2×2 or one maximised view."""

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName("viewer")
        self.setStyleSheet("#viewer { background: #101010; }")
        self.views: dict[str, SliceView] = {v: SliceView(model, v) for v in ("axial", "coronal", "sagittal")}
        self.frames: dict[str, QFrame] = {v: _Frame(w, v, self, ColorBar(model.layers))
                                          for v, w in self.views.items()}
        self._view3d = None
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setSpacing(3)
        model.events.layout.connect(self._apply_layout)
        model.events.focused.connect(self._apply_layout)
        self._apply_layout()

    @property
    def view3d(self):
        """The 3D view, created on first use (VTK is imported only then)."""
        if self._view3d is None:
            try:
                from viewer.qt.view3d.widget import View3D

                self._view3d = View3D(self.model)
            except Exception as exc:  # no OpenGL at all: say so in the view instead of crashing
                log.exception("3D view unavailable: %s", exc)
                self._view3d = QLabel("3D view unavailable on this system (no OpenGL).")
            self.frames["3d"] = _Frame(self._view3d, "3d", self)
        return self._view3d

    def _names_in_layout(self) -> list[list[str]]:
        layout = self.model.layout
        return [[self.model.focused]] if layout == "single" else GRIDS[layout]

    def _apply_layout(self, *_args) -> None:
        rows = self._names_in_layout()
        wanted = {v for row in rows for v in row}
        if "3d" in wanted:
            _ = self.view3d
        for name, frame in self.frames.items():
            self.grid.removeWidget(frame)
            if name not in wanted:
                frame.hide()
        for r, row in enumerate(rows):
            for c, name in enumerate(row):
                self.grid.addWidget(self.frames[name], r, c)
        for name in wanted:          # shown once in place, so each is shown exactly once
            self.frames[name].show()
        for i in range(3):
            self.grid.setRowStretch(i, 1 if i < len(rows) else 0)
            self.grid.setColumnStretch(i, 1 if i < max(len(r) for r in rows) else 0)

    def shown_views(self) -> list[str]:
        return [name for name, frame in self.frames.items() if frame.isVisible()]

    def cleanup(self) -> None:
        for view in self.views.values():
            view.cleanup()
        for name in self.views:
            self.frames[name].colorbar.cleanup()
        if self._view3d is not None and hasattr(self._view3d, "cleanup"):
            self._view3d.cleanup()
