"""The Edit tools dock: tool buttons, brush size, 3-D brush, active label, threshold window, and
buttons for the Edit menu's actions. Widgets mirror :class:`EditingState` (no state of their own)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFormLayout,
                               QGridLayout, QHBoxLayout, QToolButton, QVBoxLayout, QWidget)

from viewer.qt.binding import UpdateGuard
from viewer.state.editing import BRUSH_SIZES_MM


def _swatch(color) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*color))
    return QIcon(pix)


def _button(action) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setSizePolicy(button.sizePolicy().horizontalPolicy().Expanding,
                         button.sizePolicy().verticalPolicy())
    return button


class EditPalette(QDockWidget):
    """Dock with the edit tools; ``controller`` is the Edit feature's :class:`EditController`."""

    def __init__(self, controller, parent=None) -> None:
        super().__init__("Edit tools", parent)
        self.setObjectName("edit_palette")
        self.controller = controller
        self.state = controller.state
        self._updating = UpdateGuard()   # widget ↔ state without echo (viewer/qt/binding.py)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addLayout(self._tool_grid())
        layout.addLayout(self._settings())
        layout.addLayout(self._actions())
        layout.addStretch(1)
        self.setWidget(body)
        self._connect_state()
        self.refresh_labels()

    # Construction ---------------------------------------------------------------------------
    def _tool_grid(self) -> QGridLayout:
        grid = QGridLayout()
        self.tool_buttons = {}
        for n, (name, action) in enumerate(self.controller.tool_actions.items()):
            button = _button(action)
            button.setObjectName(f"tool_{name}")
            self.tool_buttons[name] = button
            grid.addWidget(button, n // 2, n % 2)  # two columns keep the dock narrow
        return grid

    def _settings(self) -> QFormLayout:
        form = QFormLayout()
        self.size = QDoubleSpinBox(self)
        self.size.setObjectName("brush_size")
        self.size.setRange(BRUSH_SIZES_MM[0], BRUSH_SIZES_MM[-1])
        self.size.setDecimals(1)
        self.size.setSuffix(" mm")
        self.size.setToolTip("Brush diameter ([ smaller, ] bigger)")
        self.size.setValue(self.state.brush_size_mm)
        self.size.valueChanged.connect(self._size_changed)
        form.addRow("Size", self.size)
        self.sphere = QCheckBox("3-D (sphere through slices)", self)
        self.sphere.setChecked(self.state.sphere)
        self.sphere.toggled.connect(lambda on: self._guarded(setattr, self.state, "sphere", on))
        form.addRow("", self.sphere)
        self.label = QComboBox(self)
        self.label.setObjectName("active_label")
        self.label.currentIndexChanged.connect(self._label_chosen)
        form.addRow("Label", self.label)
        row = QGridLayout()
        for n, action in enumerate(self.controller.label_actions):
            row.addWidget(_button(action), n // 2, n % 2)
        form.addRow("", row)
        self.low, self.high = QDoubleSpinBox(self), QDoubleSpinBox(self)
        for box in (self.low, self.high):
            box.setRange(-100000.0, 100000.0)
            box.setDecimals(1)
            box.valueChanged.connect(self._window_changed)
        self.low.setValue(self.state.window[0])
        self.high.setValue(self.state.window[1])
        row = QHBoxLayout()
        row.addWidget(self.low)
        row.addWidget(self.high)
        form.addRow("Threshold", row)
        return form

    def _actions(self) -> QVBoxLayout:
        column = QVBoxLayout()
        for action in self.controller.palette_actions:
            column.addWidget(_button(action))
        return column

    def _connect_state(self) -> None:
        ev = self.state.events
        self._slots = [(ev.brush_size_mm, lambda v: self._guarded(self.size.setValue, v)),
                       (ev.sphere, lambda v: self._guarded(self.sphere.setChecked, v)),
                       (ev.window, self._show_window),
                       (ev.active_label, lambda _v: self.refresh_labels())]
        for signal, slot in self._slots:
            signal.connect(slot)

    def cleanup(self) -> None:
        for signal, slot in self._slots:
            signal.disconnect(slot)
        self._slots = []

    # State → widgets ------------------------------------------------------------------------
    def _guarded(self, fn, *args) -> None:
        if self._updating:
            return
        with self._updating:
            fn(*args)

    def _show_window(self, window) -> None:
        def apply() -> None:
            self.low.setValue(window[0])
            self.high.setValue(window[1])
        self._guarded(apply)

    def refresh_labels(self) -> None:
        """List the labels of the layer edits go to; select the active one."""
        def fill() -> None:
            self.label.clear()
            table = self.controller.current_table()
            ids = [info.id for info in table]
            if self.state.active_label not in ids:
                ids.append(self.state.active_label)
            for label_id in sorted(ids):
                info = table.get(label_id)
                self.label.addItem(_swatch(info.color), f"{label_id}  {info.name}", label_id)
            self.label.setCurrentIndex(self.label.findData(self.state.active_label))
        self._guarded(fill)

    # Widgets → state ------------------------------------------------------------------------
    def _size_changed(self, value: float) -> None:
        self._guarded(setattr, self.state, "brush_size_mm", value)

    def _label_chosen(self, index: int) -> None:
        if index >= 0 and not self._updating:
            self.state.active_label = int(self.label.itemData(index))

    def _window_changed(self, _value: float) -> None:
        self._guarded(setattr, self.state, "window", (self.low.value(), self.high.value()))
