"""Qt-free label-map editing: brush/eraser, threshold paint, fills, interpolation, undo history.

The viewer's tools call :class:`LabelEditor`; autosave (:mod:`engine.editing.autosave`) keeps the
working label maps safe on disk.
"""

from engine.editing.brush import Brush
from engine.editing.editor import LabelEditor
from engine.editing.footprint import AXIAL, CORONAL, SAGITTAL
from engine.editing.history import EditHistory, EditRecord

__all__ = ["AXIAL", "CORONAL", "SAGITTAL", "Brush", "EditHistory", "EditRecord", "LabelEditor"]
