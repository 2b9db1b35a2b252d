"""File › Export Segmentation… and File › Import Segmentation… (NIfTI, NRRD, DICOM SEG).

:class:`ExportDialog` is a standalone dialog fed by plain arguments (label volume, label table,
reference volume, job runner), so it can be tested alone; ``install`` hooks it and the importer
into the main window, acting on the shown image and its active label layer. Export and import run
on the window's job runner (never on the GUI thread) and report progress in the dialog or the
status bar; errors are plain sentences.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QMessageBox, QProgressBar,
                               QPushButton, QRadioButton, QVBoxLayout, QWidget)

from engine.errors import CandorError
from engine.jobs import JobState
from engine.labels import LabelTable
from engine.volume import Volume
from viewer.qt.features._export_map import export_stem, safe_part
from viewer.qt.jobs_bridge import error_text, submit_watched
from viewer.state.layers import HeatmapLayer

log = logging.getLogger(__name__)

ORDER = 60
#: (label in the combo, file ending, format key)
FORMATS = (("NIfTI label map (.nii.gz)", ".nii.gz", "nifti"),
           ("NRRD for 3D Slicer (.nrrd)", ".nrrd", "nrrd"),
           ("DICOM SEG for the PACS (.dcm)", ".dcm", "seg"))
IMPORT_FILTER = ("Segmentations (*.dcm *.nii *.nii.gz *.nrrd *.seg.nrrd);;DICOM SEG (*.dcm);;"
                 "All files (*)")


def _swatch(color: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


def _error_text(job) -> str:
    job.wait()  # done-listeners run just before the job's future holds its error
    return error_text(job.error)


class ExportDialog(QDialog):
    """Choose format, labels, identifiers and destination; export on a worker with progress."""

    exported = Signal(object)   # ExportResult
    failed = Signal(str)

    def __init__(self, labels: Volume, table: LabelTable, reference: Volume, runner,
                 parent: QWidget | None = None, folder: str | Path | None = None,
                 name: str = "segmentation", provenance=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Segmentation")
        self.labels, self.table, self.reference, self.runner = labels, table, reference, runner
        #: ``engine.export.Provenance`` (a layer's typed provenance); None: read from ``labels``
        self.provenance = provenance
        self.watcher = None
        self.result = None
        self.success_box: QMessageBox | None = None
        self._folder = Path(folder) if folder else Path.home()
        self._name = name
        self._build()
        self._on_format_changed()

    # Layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.format_combo = QComboBox(self)
        for text, _ending, key in FORMATS:
            self.format_combo.addItem(text, key)
        self.has_dicom = bool(self.reference.metadata.get("source_files")) and \
            self.reference.metadata.get("source_format") == "dicom"
        if not self.has_dicom:  # a SEG must reference DICOM images
            item = self.format_combo.model().item(2)
            item.setEnabled(False)
            item.setToolTip("the image was not opened from DICOM files")
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        form.addRow("Format:", self.format_combo)
        self.label_list = QListWidget(self)
        for label_id in self._present_labels():
            info = self.table.get(label_id)
            item = QListWidgetItem(_swatch(info.color), f"{info.id}  {info.name}")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setCheckState(Qt.CheckState.Checked)
            self.label_list.addItem(item)
        self.label_list.setMaximumHeight(120)
        form.addRow("Labels:", self.label_list)
        self.seg_type = QComboBox(self)
        self.seg_type.addItem("Binary", "BINARY")
        self.seg_type.addItem("Fractional", "FRACTIONAL")
        form.addRow("SEG type:", self.seg_type)
        form.addRow("Identifiers:", self._identity_box())
        self.include_image = QCheckBox("Also write the image", self)
        self.deidentify.toggled.connect(self._sync_image_choice)
        form.addRow("", self.include_image)
        form.addRow("Save to:", self._destination_row())
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self._cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def _identity_box(self) -> QWidget:
        box = QWidget(self)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        self.keep_ids = QRadioButton("Keep the study's identifiers (for the PACS)", box)
        self.deidentify = QRadioButton("De-identify (DICOM basic profile, for research sharing)", box)
        self.keep_ids.setChecked(True)
        group = QButtonGroup(box)
        group.addButton(self.keep_ids)
        group.addButton(self.deidentify)
        self.pseudonym = QLineEdit(box)
        self.pseudonym.setPlaceholderText("subject code for the de-identified files (optional)")
        self.pseudonym.setEnabled(False)
        self.deidentify.toggled.connect(self.pseudonym.setEnabled)
        for w in (self.keep_ids, self.deidentify, self.pseudonym):
            col.addWidget(w)
        return box

    def _destination_row(self) -> QWidget:
        row = QWidget(self)
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        self.destination = QLineEdit(row)
        browse = QPushButton("Browse…", row)
        browse.clicked.connect(self._browse)
        lay.addWidget(self.destination, 1)
        lay.addWidget(browse)
        return row

    def _present_labels(self) -> list[int]:
        """Label ids in the mask: one counting pass (np.unique would sort every voxel)."""
        import numpy as np

        array = self.labels.array
        if array.dtype in (np.uint8, np.uint16):
            return [int(v) for v in np.flatnonzero(np.bincount(array.ravel())) if v > 0]
        return sorted(int(v) for v in np.unique(array) if v > 0)

    # Choices --------------------------------------------------------------------------------
    @property
    def format_key(self) -> str:
        return self.format_combo.currentData()

    def set_format(self, key: str) -> None:
        self.format_combo.setCurrentIndex([f[2] for f in FORMATS].index(key))

    def _ending(self) -> str:
        return FORMATS[self.format_combo.currentIndex()][1]

    def _sync_image_choice(self) -> None:
        """A de-identified SEG references new image UIDs, so its images are always written."""
        forced = self.format_key == "seg" and self.deidentify.isChecked()
        if forced:
            self.include_image.setChecked(True)
        self.include_image.setEnabled(not forced)
        self.include_image.setText("Also write the images (the DICOM series)" if self.format_key == "seg"
                                   else "Also write the image")
        self.include_image.setToolTip("a de-identified SEG is written with the de-identified images "
                                      "it references" if forced else "")

    def _on_format_changed(self) -> None:
        self.seg_type.setEnabled(self.format_key == "seg")
        self._sync_image_choice()
        current = self.destination.text().strip()
        if not current:
            self.destination.setText(str(self._folder / (self._name + self._ending())))
            return
        base = current
        for _text, ending, _key in FORMATS:
            if base.lower().endswith(ending):
                base = base[: -len(ending)]
                break
        self.destination.setText(base + self._ending())

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export segmentation as",
                                              self.destination.text(), f"*{self._ending()}")
        if path:
            if not path.lower().endswith(self._ending()):
                path += self._ending()
            self.destination.setText(path)

    def selected_labels(self) -> tuple[int, ...]:
        items = (self.label_list.item(i) for i in range(self.label_list.count()))
        return tuple(int(it.data(Qt.ItemDataRole.UserRole)) for it in items
                     if it.checkState() == Qt.CheckState.Checked)

    def export_options(self):
        from engine.export import ExportOptions   # engine.export loads highdicom: only when used

        return ExportOptions(labels=self.selected_labels(), seg_type=self.seg_type.currentData(),
                             deidentify=self.deidentify.isChecked(),
                             pseudonym=self.pseudonym.text().strip() or None,
                             include_image=self.include_image.isChecked(),
                             provenance=self.provenance)

    # Running --------------------------------------------------------------------------------
    def start_export(self) -> None:
        out = self.destination.text().strip()
        if not out:
            self._show_error("choose where to save the segmentation")
            return
        if not self.selected_labels():
            self._show_error("choose at least one label to export")
            return
        try:
            options = self.export_options()
        except CandorError as exc:
            self._show_error(str(exc))
            return
        from engine.export import export_labels

        self.export_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText("Exporting…")
        # a snapshot: the layer may be painted on while the export runs on the worker
        snapshot = self.labels.with_array(self.labels.array.copy())
        self.watcher = submit_watched(self.runner, export_labels, snapshot, self.table,
                                      self.reference, out, options, parent=self,
                                      on_finished=self._on_finished, name="export segmentation")
        self.watcher.progress.connect(self._on_progress)

    def _on_progress(self, event) -> None:
        self.progress.setValue(int(round(event.fraction * 100)))
        if event.stage:
            self.status.setText(event.stage.capitalize() + "…")

    def _on_finished(self, job) -> None:
        self.export_button.setEnabled(True)
        self.progress.hide()
        if job.state is JobState.DONE:
            self.result = job.result()
            self._show_success(self.result)
            self.exported.emit(self.result)
            self.accept()
        elif job.state is JobState.CANCELLED:
            self.status.setText("Export cancelled; nothing was written.")
        else:
            self._show_error(_error_text(job))

    def _show_success(self, result) -> None:
        text = f"The segmentation was saved to:\n{result.path}"
        for extra in result.extra_paths:
            text += f"\n{extra}"
        if result.warnings:
            text += "\n\nNote: " + "\n".join(result.warnings)
        self.success_box = QMessageBox(QMessageBox.Icon.Information, "Segmentation exported", text,
                                       QMessageBox.StandardButton.Ok, self.parentWidget() or self)
        self.success_box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.success_box.open()

    def _show_error(self, message: str) -> None:
        self.status.setText(f"Not exported: {message}")
        self.failed.emit(message)

    def _cancel(self) -> None:
        if self.watcher is not None and self.watcher.job and not self.watcher.job.state.finished:
            self.watcher.job.cancel()
            return
        self.reject()


# Main-window integration ------------------------------------------------------------------------
NEEDS = ("model", "messages")


def _label_set(table: LabelTable) -> str:
    """The label names joined by "-" (e.g. "Alpha-Beta"), for the suggested file name."""
    return "-".join(safe_part(info.name) for info in table if safe_part(info.name)) or "segmentation"


def _export_folder(window) -> Path | None:
    paths = window.recent.paths
    return Path(paths[0]).parent if paths else None


def open_export_dialog(services):
    """Show the export dialog for the selected heatmap or the active label layer (non-modal)."""
    window, model = services.window, services.model
    active = model.layers.active
    if model.image is not None and isinstance(active, HeatmapLayer):
        from viewer.qt.features._export_map import MapExportDialog

        dialog = MapExportDialog(active.volume, model.image.volume, services.jobs, name=active.name,
                                 folder=_export_folder(window), parent=window)
        dialog.exported.connect(lambda r: services.status(f"Exported {r.path}", 10000))
        dialog.open()
        return dialog
    layer = model.layers.active_labels
    if model.image is None or layer is None:
        QMessageBox.information(window, "Export Segmentation",
                                "There is no segmentation to export: open a study and add or "
                                "draw a label layer first.")
        return None
    folder = _export_folder(window)
    dialog = ExportDialog(layer.volume, layer.table, model.image.volume, services.jobs, window,
                          folder=folder, name=export_stem(model.image.volume, _label_set(layer.table)),
                          provenance=layer.export_provenance())
    dialog.exported.connect(lambda r: services.status(f"Exported {r.path}", 10000))
    dialog.open()
    return dialog


def _load_segmentation(path: str, reference: Volume, names: LabelTable | None, *, progress=None,
                       cancel=None):
    """Worker side of the import: a DICOM SEG or a label file, as (volume, table, maps, warnings)."""
    from engine.export import import_seg, read_label_file

    if str(path).lower().endswith(".dcm"):
        seg = import_seg(path, reference, label_names=names, progress=progress, cancel=cancel)
        return seg.labels, seg.table, seg.probabilities, seg.warnings
    volume, table = read_label_file(path)
    return volume, table, {}, []


def import_segmentation(services, path: str):
    """Import ``path`` onto the shown image as a label layer (probabilities as heatmaps)."""
    window, model, messages = services.window, services.model, services.messages
    if model.image is None:
        QMessageBox.information(window, "Import Segmentation", "Open the study the segmentation "
                                "belongs to first.")
        return None
    active = model.layers.active_labels
    names = active.table if active is not None else None
    services.status(f"Importing {Path(path).name}…", 0)

    def done(job) -> None:
        if job.state is not JobState.DONE:
            messages.add(f"Could not import {Path(path).name}: {_error_text(job)}", "error")
            services.status("Import failed", 0)
            return
        volume, table, maps, warnings = job.result()
        try:
            model.layers.add_labels(volume, table, name=Path(path).name.split(".")[0])
            for label_id, prob in maps.items():
                model.layers.add_heatmap(prob, name=f"P({table.get(label_id).name})",
                                         value_range=(0.0, 1.0))
        except CandorError as exc:
            messages.add(f"Could not import {Path(path).name}: {exc}", "error")
            return
        for warning in warnings:
            messages.add(warning, "warning")
        services.status(f"Imported {Path(path).name}", 10000)

    return submit_watched(services.jobs, _load_segmentation, path, model.image.volume, names,
                          parent=window, on_finished=done, name="import segmentation")


class ExportFeature:
    """File › Export Segmentation… / Import Segmentation… and the last dialog/import started."""

    def __init__(self, services) -> None:
        self.services = services
        window = services.window
        menu = window.file_menu
        self.dialog = None
        self.import_watcher = None
        self.action_export_seg = menu.addAction("&Export Segmentation…")
        self.action_import_seg = menu.addAction("I&mport Segmentation…")
        for action in (self.action_export_seg, self.action_import_seg):   # Quit stays last
            menu.removeAction(action)
            menu.insertAction(window.action_quit, action)
        menu.insertSeparator(window.action_quit)
        self.action_export_seg.setShortcut("Ctrl+E")
        self.action_export_seg.triggered.connect(self.export)
        self.action_import_seg.triggered.connect(self.choose_and_import)

    def export(self):
        self.dialog = open_export_dialog(self.services)
        return self.dialog

    def import_path(self, path: str):
        self.import_watcher = import_segmentation(self.services, path)
        return self.import_watcher

    def choose_and_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.services.window, "Import segmentation", "",
                                              IMPORT_FILTER)
        if path:
            self.import_path(path)


def install(services) -> None:
    services.export = ExportFeature(services)
