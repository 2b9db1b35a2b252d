"""Status-bar readout: voxel index, patient position (LPS mm) and value under the mouse."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel

from viewer.state.layers import LabelsLayer
from viewer.state.viewer_model import ViewerModel


def describe(model: ViewerModel, zyx) -> str:
    """One line for the display voxel ``zyx``: file voxel (i, j, k), LPS mm, value, labels there."""
    grid = model.grid
    if grid is None or zyx is None:
        return ""
    zyx = tuple(int(np.clip(round(v), 0, n - 1)) for v, n in zip(zyx, grid.shape))
    i, j, k = (int(round(v)) for v in grid.display_to_source_index(zyx))
    x, y, z = grid.display_to_lps(zyx)
    value = model.display(model.image)[zyx]
    unit = " HU" if model.modality == "CT" else ""
    shown = f"{value:.0f}" if np.issubdtype(type(value), np.integer) or float(value).is_integer() \
        else f"{value:.4g}"
    parts = [f"voxel ({i}, {j}, {k})", f"LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm", f"value {shown}{unit}"]
    for layer in model.layers:
        if isinstance(layer, LabelsLayer) and layer.visible:
            label_id = int(model.display(layer)[zyx])
            if label_id:
                parts.append(f"{layer.name}: {layer.table.get(label_id).name}")
        elif layer.kind == "heatmap" and layer.visible:
            parts.append(f"{layer.name} {float(model.display(layer)[zyx]):.3g}")
    return "   ".join(parts)


class CursorReadout(QLabel):
    """Shows :func:`describe` for the hovered voxel, or for the crosshair when the mouse leaves."""

    def __init__(self, model: ViewerModel) -> None:
        super().__init__()
        self.model = model
        self.setObjectName("cursor_readout")
        self.setMinimumWidth(420)
        model.cursor.events.changed.connect(self._show_cursor)

    def show_voxel(self, zyx) -> None:
        if zyx is None:
            self._show_cursor()
        else:
            self.setText(describe(self.model, zyx))

    def _show_cursor(self, *_args) -> None:
        self.setText(describe(self.model, self.model.cursor.index) if self.model.grid else "")
