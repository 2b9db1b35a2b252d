"""Export of a heatmap layer (probability or uncertainty map) as float NIfTI/NRRD or fractional SEG.

Used by File › Export Segmentation… when the selected layer is a heatmap; standalone like
:class:`~viewer.qt.features.export.ExportDialog` (map volume, reference volume, job runner).
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QLineEdit, QProgressBar, QVBoxLayout, QWidget)

from engine.errors import CandorError
from engine.export import export_float_map
from engine.jobs import JobState
from engine.labels import LabelInfo
from engine.volume import Volume
from viewer.qt.jobs_bridge import submit_watched

MAX_STEM = 80


def safe_part(text: str) -> str:
    """``text`` with runs of characters outside ``[A-Za-z0-9._-]`` turned into one ``_``, trimmed."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._-")


def export_stem(reference: Volume, what: str) -> str:
    """A file name (no ending) from the series and ``what`` (the label set or the map's name):
    "<series description>_S<series number>_<what>", only ``[A-Za-z0-9._-]``, at most ``MAX_STEM``
    characters. Only series fields are used, never the patient's (name, ID, birth date)."""
    meta = reference.metadata
    parts = [safe_part(meta.get("series_description") or "")]
    if meta.get("series_number") not in (None, ""):
        parts.append("S" + safe_part(str(meta["series_number"])))
    parts.append(safe_part(what))
    stem = "_".join(p for p in parts if p)[:MAX_STEM].strip("._-")
    return stem or "segmentation"


MAP_FORMATS = (("Float NIfTI (.nii.gz)", ".nii.gz"), ("Float NRRD (.nrrd)", ".nrrd"),
               ("Fractional DICOM SEG (.dcm, probabilities only)", ".dcm"))


def guess_kind(volume: Volume, name: str) -> str:
    """``probability`` for maps that say so or look like one (0..1, "P(…)"/"prob"), else uncertainty."""
    kind = volume.metadata.get("kind")
    if kind in ("probability", "uncertainty"):
        return kind
    lowered = name.lower()
    looks = lowered.startswith("p(") or "prob" in lowered
    lo, hi = float(volume.array.min()), float(volume.array.max())
    return "probability" if looks and lo >= 0.0 and hi <= 1.0 else "uncertainty"


class MapExportDialog(QDialog):
    """Kind, format and destination of one float map; exports on a worker with progress."""

    exported = Signal(object)
    failed = Signal(str)

    def __init__(self, volume: Volume, reference: Volume, runner, name: str = "map",
                 folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Map")
        self.volume, self.reference, self.runner, self.name = volume, reference, runner, name
        self.watcher = None
        self.kind = QComboBox(self)
        self.kind.addItems(["probability", "uncertainty"])
        self.kind.setCurrentText(guess_kind(volume, name))
        self.format = QComboBox(self)
        for text, _ending in MAP_FORMATS:
            self.format.addItem(text)
        base = Path(folder) if folder else Path.home()
        self.destination = QLineEdit(str(base / f"{export_stem(reference, name or 'map')}.nii.gz"), self)
        self.format.currentIndexChanged.connect(self._on_format)
        self.kind.currentTextChanged.connect(self._on_format)
        form = QFormLayout()
        form.addRow("Map:", self.kind)
        form.addRow("Format:", self.format)
        form.addRow("Save to:", self.destination)
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(self)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel).clicked.connect(self.reject)
        self.export_button.clicked.connect(self.start_export)
        layout = QVBoxLayout(self)
        for part in (form, self.progress, self.status, buttons):
            (layout.addLayout if isinstance(part, QFormLayout) else layout.addWidget)(part)
        self._on_format()

    def _on_format(self) -> None:
        ending = MAP_FORMATS[self.format.currentIndex()][1]
        seg_ok = self.kind.currentText() == "probability" and \
            self.reference.metadata.get("source_format") == "dicom"
        self.export_button.setEnabled(ending != ".dcm" or seg_ok)
        self.status.setText("" if ending != ".dcm" or seg_ok else
                            "A DICOM SEG holds probabilities of an image opened from DICOM only.")
        text = self.destination.text()
        for _t, e in MAP_FORMATS:
            if text.lower().endswith(e):
                text = text[: -len(e)]
                break
        self.destination.setText(text + ending)

    def start_export(self) -> None:
        label = LabelInfo(1, self.volume.metadata.get("label_name") or self.name, (255, 0, 0))
        self.export_button.setEnabled(False)
        self.progress.show()
        self.watcher = submit_watched(self.runner, export_float_map, self.volume, self.reference,
                                      self.destination.text().strip(), kind=self.kind.currentText(),
                                      label=label, parent=self, on_finished=self._on_finished,
                                      name="export map")
        self.watcher.progress.connect(lambda e: self.progress.setValue(int(e.fraction * 100)))

    def _on_finished(self, job) -> None:
        self.export_button.setEnabled(True)
        self.progress.hide()
        if job.state is JobState.DONE:
            result = job.result()
            self.status.setText(f"Saved to {result.path}")
            self.exported.emit(result)
            self.accept()
            return
        job.wait()  # done-listeners run just before the job's future holds its error
        err = job.error
        message = str(err) if isinstance(err, CandorError) else "the export failed unexpectedly"
        self.status.setText(f"Not exported: {message}")
        self.failed.emit(message)
