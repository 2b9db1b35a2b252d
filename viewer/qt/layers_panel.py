"""Layers panel: the image and its overlays, per-label visibility and volumes, opacity, colormaps."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QDockWidget, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QPushButton, QSlider, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from viewer.qt.binding import UpdateGuard, connect_setattr
from viewer.state.layers import HEATMAP_COLORMAPS, HeatmapLayer, LabelsLayer, Layer
from viewer.state.provenance import Role
from viewer.state.viewer_model import ViewerModel

ROLE = Qt.ItemDataRole.UserRole
FLAG_PREFIX = "⚠ "


def _swatch(rgb) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


def display_name(layer: Layer) -> str:
    """The name shown in the panel: the layer's name, flagged when its AI input check failed
    (the flag is the layer's ``provenance.ood_flag``, not part of its name)."""
    return FLAG_PREFIX + layer.name if layer.provenance.ood_flag else layer.name


#: the compact role shown beside each layer's name (the full name and model are in the tooltip)
ROLE_TAGS = {Role.IMAGE: "image", Role.AI: "AI", Role.CORRECTED: "✎ corrected",
             Role.MANUAL: "✎ manual", Role.HEATMAP: "map"}
PROPERTIES_TITLE = "Properties of: {}"


def role_tag(layer: Layer) -> str:
    tag = ROLE_TAGS.get(layer.role, layer.role.value)
    model = layer.provenance.model_name
    return f"{tag} · {model}" if model and layer.role is not Role.IMAGE else tag


def _tooltip(layer: Layer) -> str:
    p = layer.provenance
    text = f"{layer.name}\n{layer.role.value} layer"
    if p.model_name:
        text += f" — model {p.model_label}"
    if p.ood_flag:
        text += " — OOD warning: the input check flagged this scan"
    return text


class LayersPanel(QDockWidget):
    """Binds a tree of layers (and labels) and a few controls to ``model.layers``."""

    def __init__(self, model: ViewerModel, parent=None) -> None:
        super().__init__("Layers", parent)
        self.setObjectName("layers_dock")
        self.model = model
        self._updating = UpdateGuard()  # widget ↔ state: no echo while the panel fills widgets
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Layer", "Role / volume"])
        self.tree.setColumnWidth(0, 190)
        # a long name keeps its end ("… (corrected)"), and the role column tells copies apart
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        connect_setattr(self.opacity.valueChanged, self._active_overlay, "opacity", self._updating,
                        lambda value: value / 100.0)
        self.colormap = QComboBox()
        self.colormap.addItems(HEATMAP_COLORMAPS)
        connect_setattr(self.colormap.currentTextChanged, self._active_heatmap, "colormap",
                        self._updating)
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
        # the controls edit the selected layer: the box says which one, by name
        self.properties = QGroupBox(PROPERTIES_TITLE.format("—"))
        form = QFormLayout(self.properties)
        form.addRow("Opacity", self.opacity)
        form.addRow("Colormap", self.colormap)
        form.addRow("Range", rng)
        form.addRow(self.remove_button)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.properties)
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
        with self._updating:
            self._fill_tree()
        self._select_active(self.model.layers.active)

    def _fill_tree(self) -> None:
        for signal, slot in self._layer_slots:
            signal.disconnect(slot)
        self._layer_slots = []
        self.tree.clear()
        for layer in reversed(list(self.model.layers)):   # top-most first, like every layer list
            item = QTreeWidgetItem([display_name(layer), role_tag(layer)])
            item.setData(0, ROLE, layer)
            item.setToolTip(1, _tooltip(layer))
            item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            item.setToolTip(0, _tooltip(layer))
            self.tree.addTopLevelItem(item)
            if isinstance(layer, LabelsLayer):
                self._add_label_rows(item, layer)
            item.setExpanded(True)
            for signal in (layer.events.visible, layer.events.style, layer.events.data,
                           layer.events.name, layer.events.provenance, layer.events.role):
                slot = self._refresh_later
                signal.connect(slot)
                self._layer_slots.append((signal, slot))

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
        with self._updating:
            if isinstance(data, tuple):
                data[0].set_label_visible(data[1], checked)
            else:
                data.visible = checked

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is None:
            return
        data = current.data(0, ROLE)
        layer = data[0] if isinstance(data, tuple) else data
        if not self._updating:
            self.model.layers.active = layer
        self._show_controls(layer)

    def _show_controls(self, layer: Layer | None) -> None:
        with self._updating:
            self._fill_controls(layer)

    def _fill_controls(self, layer: Layer | None) -> None:
        name = layer.name if layer is not None else "—"
        metrics = self.properties.fontMetrics()
        self.properties.setTitle(PROPERTIES_TITLE.format(
            metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, max(self.tree.width() - 90, 120))))
        self.properties.setToolTip(name)
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

    def _select_active(self, layer) -> None:
        item = self.item_for(layer) if layer is not None else None
        if item is not None and self.tree.currentItem() is not item:
            with self._updating:
                self.tree.setCurrentItem(item)
        self._show_controls(layer)

    def _active_overlay(self) -> Layer | None:
        layer = self.model.layers.active
        return layer if layer is not None and layer.kind != "image" else None

    def _active_heatmap(self) -> HeatmapLayer | None:
        layer = self.model.layers.active
        return layer if isinstance(layer, HeatmapLayer) else None

    def _range_changed(self) -> None:
        layer = self.model.layers.active
        lo, hi = self.range_lo.value(), self.range_hi.value()
        if not self._updating and isinstance(layer, HeatmapLayer) and hi > lo:
            layer.value_range = (lo, hi)

    def _remove_current(self) -> None:
        layer = self.model.layers.active
        if layer is not None and layer.kind != "image":
            self.model.layers.remove(layer)
