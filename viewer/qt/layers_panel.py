"""Layers panel: the image and its overlays, per-label visibility and volumes, opacity, colormaps."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QDockWidget, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QPushButton, QSlider, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from viewer.state.layers import HEATMAP_COLORMAPS, HeatmapLayer, LabelsLayer, Layer
from viewer.state.viewer_model import ViewerModel

ROLE = Qt.ItemDataRole.UserRole


def _swatch(rgb) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


class LayersPanel(QDockWidget):
    """Binds a tree of layers (and labels) and a few controls to ``model.layers``."""

    def __init__(self, model: ViewerModel, parent=None) -> None:
        super().__init__("Layers", parent)
        self.setObjectName("layers_dock")
        self.model = model
        self._updating = False  # re-entrancy guard: widget ↔ state
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Layer", "Volume"])
        self.tree.setColumnWidth(0, 190)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.colormap = QComboBox()
        self.colormap.addItems(HEATMAP_COLORMAPS)
        self.colormap.currentTextChanged.connect(self._colormap_changed)
        self.range_lo, self.range_hi = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.range_lo, self.range_hi):
            box.setDecimals(3)
            box.setRange(-1e9, 1e9)
            box.editingFinished.connect(self._range_changed)
        self.remove_button = QPushButton("Remove layer")
        self.remove_button.clicked.connect(self._remove_current)
        rng = QHBoxLayout()
        rng.addWidget(self.range_lo)
        rng.addWidget(self.range_hi)
        form = QFormLayout()
        form.addRow("Opacity", self.opacity)
        form.addRow("Colormap", self.colormap)
        form.addRow("Range", rng)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addWidget(self.tree, 1)
        lay.addLayout(form)
        lay.addWidget(self.remove_button)
        self.setWidget(body)
        for sig in (model.layers.events.inserted, model.layers.events.removed):
            sig.connect(self._rebuild)
        model.layers.events.reordered.connect(self._rebuild)
        model.layers.events.active.connect(self._select_active)
        self._layer_slots: list = []
        self._timer = QTimer(self)           # coalesce bursts (brush strokes) into one rebuild
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._rebuild)
        self._rebuild()

    # Tree -----------------------------------------------------------------------------------
    def _rebuild(self, *_args) -> None:
        self._updating = True
        for signal, slot in self._layer_slots:
            signal.disconnect(slot)
        self._layer_slots = []
        self.tree.clear()
        for layer in reversed(list(self.model.layers)):   # top-most first, like every layer list
            item = QTreeWidgetItem([f"{layer.name}", ""])
            item.setData(0, ROLE, layer)
            item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            item.setToolTip(0, f"{layer.kind} layer")
            self.tree.addTopLevelItem(item)
            if isinstance(layer, LabelsLayer):
                self._add_label_rows(item, layer)
            item.setExpanded(True)
            for signal in (layer.events.visible, layer.events.style, layer.events.data,
                           layer.events.name):
                slot = self._refresh_later
                signal.connect(slot)
                self._layer_slots.append((signal, slot))
        self._updating = False
        self._select_active(self.model.layers.active)

    def _add_label_rows(self, parent: QTreeWidgetItem, layer: LabelsLayer) -> None:
        for label_id in layer.label_ids:
            info = layer.table.get(label_id)
            child = QTreeWidgetItem([f"{label_id}  {info.name}", f"{layer.volume_ml(label_id):.2f} mL"])
            child.setIcon(0, _swatch(info.color))
            child.setData(0, ROLE, (layer, label_id))
            child.setCheckState(0, Qt.CheckState.Checked if layer.label_visible(label_id)
                                else Qt.CheckState.Unchecked)
            child.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            parent.addChild(child)

    def _refresh_later(self, *_args) -> None:
        if not self._updating:
            self._timer.start()

    def item_for(self, layer: Layer, label_id: int | None = None) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.data(0, ROLE) is layer:
                if label_id is None:
                    return top
                for j in range(top.childCount()):
                    if top.child(j).data(0, ROLE)[1] == label_id:
                        return top.child(j)
        return None

    # Widget → state -------------------------------------------------------------------------
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        checked = item.checkState(0) == Qt.CheckState.Checked
        data = item.data(0, ROLE)
        self._updating = True
        try:
            if isinstance(data, tuple):
                data[0].set_label_visible(data[1], checked)
            else:
                data.visible = checked
        finally:
            self._updating = False

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is None:
            return
        data = current.data(0, ROLE)
        layer = data[0] if isinstance(data, tuple) else data
        if not self._updating:
            self.model.layers.active = layer
        self._show_controls(layer)

    def _show_controls(self, layer: Layer | None) -> None:
        self._updating = True
        overlay = layer is not None and layer.kind != "image"
        self.opacity.setEnabled(overlay)
        self.remove_button.setEnabled(overlay)
        self.opacity.setValue(int(round((layer.opacity if layer else 1.0) * 100)))
        heat = isinstance(layer, HeatmapLayer)
        for w in (self.colormap, self.range_lo, self.range_hi):
            w.setEnabled(heat)
        if heat:
            self.colormap.setCurrentText(layer.colormap)
            self.range_lo.setValue(layer.value_range[0])
            self.range_hi.setValue(layer.value_range[1])
        self._updating = False

    def _select_active(self, layer) -> None:
        item = self.item_for(layer) if layer is not None else None
        if item is not None and self.tree.currentItem() is not item:
            self._updating = True
            self.tree.setCurrentItem(item)
            self._updating = False
        self._show_controls(layer)

    def _opacity_changed(self, value: int) -> None:
        layer = self.model.layers.active
        if not self._updating and layer is not None and layer.kind != "image":
            layer.opacity = value / 100.0

    def _colormap_changed(self, name: str) -> None:
        layer = self.model.layers.active
        if not self._updating and isinstance(layer, HeatmapLayer):
            layer.colormap = name

    def _range_changed(self) -> None:
        layer = self.model.layers.active
        lo, hi = self.range_lo.value(), self.range_hi.value()
        if not self._updating and isinstance(layer, HeatmapLayer) and hi > lo:
            layer.value_range = (lo, hi)

    def _remove_current(self) -> None:
        layer = self.model.layers.active
        if layer is not None and layer.kind != "image":
            self.model.layers.remove(layer)
