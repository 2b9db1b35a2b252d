"""The lesion table's Qt model and the job that computes its rows (``engine.reading.lesion_table``).

The rows are :class:`engine.reading.lesions.Lesion` objects; ``SORT_ROLE`` gives each cell a
number, so a :class:`QSortFilterProxyModel` sorts every column numerically (the slice range by its
first slice, the centroid by its superior coordinate, an absent map value below every number).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from engine.reading.lesions import Lesion, lesion_table
from engine.volume import Volume

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("#", "mL", "Long axis mm", "Short axis mm", "Slices", "Centroid LPS (mm)",
           "Epistemic mean", "Epistemic max", "Saliency mean")
_GREY = QColor(140, 140, 140)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def compute_rows(labels: Volume, label: int, uncertainty: Volume | None, saliency: Volume | None,
                 min_ml: float, *, progress=None, cancel=None) -> list[Lesion]:
    """The job: the lesion table of ``label`` (maps on another grid are left out, not fatal)."""
    if uncertainty is not None and not uncertainty.geometry.is_close(labels.geometry):
        uncertainty = None
    if saliency is not None and not saliency.geometry.is_close(labels.geometry):
        saliency = None
    return lesion_table(labels, label, uncertainty=uncertainty, saliency=saliency, min_ml=min_ml)


def _number(value: float | None) -> float:
    return -math.inf if value is None else float(value)


def _map_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


class LesionModel(QAbstractTableModel):
    """One row per :class:`Lesion`; small components greyed with a tooltip naming the threshold."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[Lesion] = []
        self.min_ml = 0.01

    def set_rows(self, rows: list[Lesion], min_ml: float) -> None:
        self.beginResetModel()
        self.rows, self.min_ml = list(rows), min_ml
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col)
        if role == SORT_ROLE:
            return self._key(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col != 5:
            return int(_RIGHT.value)
        if row.small and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(_GREY)
        if row.small and role == Qt.ItemDataRole.ToolTipRole:
            return (f"Under {self.min_ml:g} mL: shown, but below the reporting threshold "
                    "(may be noise or a fragment)")
        return None

    @staticmethod
    def _text(row: Lesion, col: int) -> str:
        first, last = row.slice_range
        values = (str(row.index), f"{row.volume_ml:.3f}", f"{row.long_diameter_mm:.1f}",
                  f"{row.short_diameter_mm:.1f}", f"{first}–{last}" if last != first else str(first),
                  "({:.1f}, {:.1f}, {:.1f})".format(*row.centroid_lps),
                  _map_text(row.uncertainty_mean), _map_text(row.uncertainty_max),
                  _map_text(row.saliency_mean))
        return values[col]

    @staticmethod
    def _key(row: Lesion, col: int) -> float:
        values = (row.index, row.volume_ml, row.long_diameter_mm, row.short_diameter_mm,
                  row.slice_range[0] + row.slice_range[1] / 1e6, row.centroid_lps[2],
                  _number(row.uncertainty_mean), _number(row.uncertainty_max),
                  _number(row.saliency_mean))
        return float(values[col])
