"""File › Report…: the reading report of the shown study as PDF (or HTML), with a DICOM SR beside it.

The dialog reads what the reader sees: the active labels layer and one of its labels (by default
the class named "lesion"), the epistemic-uncertainty and saliency maps of the AI run that made it
(as the Lesions dock does), the measurements of the Measurements dock (``services.measurements``)
and the layer's provenance — the model, its version, whether the trust check flagged the input,
whether a person corrected the mask. One job on the job runner computes the lesion table and
builds :func:`engine.reading.report.build_html` (and, when ticked and the image came from DICOM,
the SR with :func:`engine.export.sr.write_sr`); the GUI thread then prints the page with
:func:`viewer.qt.report_pdf.write_pdf`. Patient identifiers are in the PDF only when "Include
patient identifiers" is ticked; the suggested file name uses only series fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox,
                               QPushButton, QVBoxLayout, QWidget)

from engine.errors import CandorError
from engine.labels import LabelTable
from engine.volume import Volume
from viewer.qt.features._export_map import export_stem, safe_part
from viewer.qt.features.lesion_table import MIN_ML, default_label, run_maps
from viewer.qt.jobs_bridge import error_text, outcome, submit_watched

log = logging.getLogger(__name__)

ORDER = 85
NEEDS = ("model",)


@dataclass(frozen=True)
class ReportRequest:
    """Everything the report job needs, copied on the GUI thread (edits may go on meanwhile)."""

    image: Volume
    labels: Volume
    table: LabelTable
    label: int
    uncertainty: Volume | None
    saliency: Volume | None
    measurements: tuple
    provenance: object            # engine.reading.findings.AIProvenance
    identifiers: bool
    sr_path: Path | None


@dataclass(frozen=True)
class ReportPage:
    html: str
    findings: object              # engine.reading.findings.Findings
    sr_path: Path | None


def build_report(request: ReportRequest, *, progress=None, cancel=None) -> ReportPage:
    """The job: lesion table → findings → HTML page (+ the SR file)."""
    from engine.jobs import report
    from engine.reading import lesion_table
    from engine.reading.findings import Findings
    from engine.reading.report import build_html, patient_identifiers

    report(progress, cancel, 0.0, "measuring the findings")
    unc, sal = request.uncertainty, request.saliency
    grid = request.labels.geometry
    rows = lesion_table(request.labels, request.label, min_ml=MIN_ML,
                        uncertainty=unc if unc is not None and unc.geometry.is_close(grid) else None,
                        saliency=sal if sal is not None and sal.geometry.is_close(grid) else None)
    findings = Findings(request.label, request.table.get(request.label).name, tuple(rows),
                        min_ml=MIN_ML, measurements=request.measurements,
                        provenance=request.provenance)
    ids = patient_identifiers(request.image) if request.identifiers else None
    report(progress, cancel, 0.4, "drawing the key images")
    html = build_html(findings, request.image, request.labels, request.table, identifiers=ids)
    if request.sr_path is not None:
        from engine.export.sr import write_sr

        report(progress, cancel, 0.8, "writing the DICOM SR")
        write_sr(findings, request.image, request.sr_path)
    return ReportPage(html, findings, request.sr_path)


def ai_provenance(layer):
    """The report's :class:`AIProvenance` of a labels layer (role + the run's verdicts)."""
    from engine.reading.findings import AIProvenance

    base = layer.export_provenance()        # kind and model, as the SEG export reads them
    if base.kind == "manual":
        return AIProvenance("manual")
    prov = layer.provenance
    reasons = tuple(str(r) for r in ((prov.ood or {}).get("reasons") or ()))
    flag = bool(prov.ood_flag) if prov.ood is not None or prov.ood_flag else None
    return AIProvenance(base.kind, base.model_name, base.model_version, flag, reasons)


def is_dicom(image: Volume) -> bool:
    return bool(image.metadata.get("source_files")) and \
        image.metadata.get("source_format", "dicom") == "dicom"


class ReportDialog(QDialog):
    """Label, destination, "include identifiers", "also a DICOM SR"; writes on the job runner."""

    written = Signal(object)        # list[Path]
    failed = Signal(str)

    def __init__(self, services, layer, folder: Path | None = None) -> None:
        super().__init__(services.window)
        self.setWindowTitle("Write Report")
        self.services, self.layer = services, layer
        self.image = services.model.image.volume
        self.watcher = None
        self.paths: list[Path] = []
        self.label_combo = QComboBox(self)
        for info in layer.table or []:
            self.label_combo.addItem(f"{info.id}: {info.name}", info.id)
        at = self.label_combo.findData(default_label(layer.table))
        self.label_combo.setCurrentIndex(max(at, 0))
        self.label_combo.currentIndexChanged.connect(lambda _i: self._suggest())
        self.path_edit = QLineEdit(self)
        self.folder = folder or Path.home()
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QWidget(self)
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.path_edit, 1)
        line.addWidget(browse)
        self.identifiers_box = QCheckBox("Include patient identifiers (name, ID, birth date)", self)
        self.sr_box = QCheckBox("Also write a DICOM SR (TID 1500) for the PACS", self)
        dicom = is_dicom(self.image)
        self.sr_box.setChecked(dicom)
        self.sr_box.setEnabled(dicom)
        self.identifiers_box.setEnabled(dicom)
        if not dicom:
            self.sr_box.setToolTip("The image was not loaded from DICOM: an SR cannot point into it")
        prov = ai_provenance(layer)
        self.verdict = QLabel(prov.verdict(), self)
        self.verdict.setWordWrap(True)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Label:", self.label_combo)
        form.addRow("PDF or HTML file:", row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.write_button = self.buttons.addButton("Write", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.identifiers_box)
        layout.addWidget(self.sr_box)
        layout.addWidget(QLabel("Trust:", self))
        layout.addWidget(self.verdict)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._suggest()

    def label(self) -> int | None:
        return self.label_combo.currentData()

    def _suggest(self) -> None:
        info = self.layer.table.get(self.label()) if self.label() is not None else None
        what = "report_" + (safe_part(info.name) if info else "labels")
        self.path_edit.setText(str(self.folder / f"{export_stem(self.image, what)}.pdf"))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write report as", self.path_edit.text(),
                                              "PDF (*.pdf);;HTML page (*.html)")
        if path:
            self.path_edit.setText(path)

    def out_path(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser()

    def sr_path(self, out: Path) -> Path | None:
        if not (self.sr_box.isEnabled() and self.sr_box.isChecked()):
            return None
        return out.with_name(f"{out.stem}_SR.dcm")

    def request(self, out: Path) -> ReportRequest:
        layer = self.layer
        info = layer.table.get(self.label())
        epistemic, saliency = run_maps(self.services.model, layer, info.name)
        src = layer.volume
        measurements = self.services.measurements
        return ReportRequest(
            image=self.image, labels=Volume(src.array.copy(), src.geometry, src.modality),
            table=layer.table, label=self.label(), uncertainty=epistemic, saliency=saliency,
            measurements=tuple(m for _id, m in measurements.items()) if measurements is not None else (),
            provenance=ai_provenance(layer), identifiers=self.identifiers_box.isChecked(),
            sr_path=self.sr_path(out))

    def start(self):
        """Check the destination, then run the report job; returns the job (or None)."""
        if self.watcher is not None:
            return None
        out = self.out_path()
        if self.label() is None:
            return self._fail("The labels layer has no label to report.")
        if out.suffix.lower() not in (".pdf", ".html"):
            return self._fail(f"Write the report to a .pdf or .html file, not {out.name or 'nothing'}.")
        if not out.parent.is_dir():
            return self._fail(f"The folder for {out.name} does not exist.")
        self.write_button.setEnabled(False)
        self.status.setText("Writing the report…")
        self.watcher = submit_watched(self.services.jobs, build_report, self.request(out),
                                      parent=self, name="report", on_finished=self._finished)
        self.watcher.progress.connect(self._progress)
        self._out = out
        return self.watcher.job

    def _progress(self, event) -> None:
        self.status.setText(f"Writing the report: {event.stage}…" if event.stage else "Writing the report…")

    def _finished(self, job) -> None:
        self.watcher = None
        page, error = outcome(job)
        if error is None:
            try:
                self.paths = self._write(page)
            except CandorError as exc:
                error = exc
        self.write_button.setEnabled(True)
        if error is not None:
            text = error_text(error)
            log.warning("report: %s", text)
            self._fail(f"The report was not written: {text}")
            return
        names = ", ".join(p.name for p in self.paths)
        self.status.setText(f"Wrote {names}")
        self.written.emit(self.paths)
        self.accept()

    def _write(self, page: ReportPage) -> list[Path]:
        out = self._out
        if out.suffix.lower() == ".pdf":
            from viewer.qt.report_pdf import write_pdf

            written = [write_pdf(page.html, out)]
        else:
            from engine.reading.report import write_html

            written = [write_html(page.html, out)]
        return written + ([page.sr_path] if page.sr_path is not None else [])

    def _fail(self, text: str) -> None:
        self.status.setText(text)
        self.failed.emit(text)
        return None


def label_statistics(image: Volume, labels: Volume, table: LabelTable, out: Path, *,
                     progress=None, cancel=None) -> Path:
    """The job of File › Export Label Statistics: every label's voxels, mL, mean/SD/min/max."""
    from engine.reading.stats import label_stats, write_csv

    return write_csv(label_stats(image, labels, table), out)


class ReportFeature:
    """File › Report… and File › Export Label Statistics… (before Quit), the last dialog/job."""

    def __init__(self, services) -> None:
        self.services = services
        window = services.window
        self.dialog = None
        self.stats_watcher = None
        self.action = window.file_menu.addAction("&Report…")
        self.action_stats = window.file_menu.addAction("Export Label &Statistics (CSV)…")
        for action in (self.action, self.action_stats):
            window.file_menu.removeAction(action)
            window.file_menu.insertAction(window.action_quit, action)
        self.action.setShortcut("Ctrl+Shift+P")
        self.action.setStatusTip("Write the reading report: PDF with key images, and a DICOM SR")
        self.action.triggered.connect(self.open)
        self.action_stats.setStatusTip("Voxels, mL and mean/SD/min/max intensity of every label, as CSV")
        self.action_stats.triggered.connect(self.choose_stats_file)

    def _labels(self, what: str):
        model = self.services.model
        layer = model.layers.active_labels
        if model.image is None or layer is None:
            QMessageBox.information(self.services.window, what, "There is nothing to report: open "
                                    "a study and run the AI or draw a label layer first.")
            return None
        return layer

    def choose_stats_file(self) -> None:
        layer = self._labels("Label Statistics")
        if layer is None:
            return
        image = self.services.model.image.volume
        paths = self.services.window.recent.paths
        folder = Path(paths[0]).parent if paths else Path.home()
        suggested = folder / f"{export_stem(image, 'label_statistics')}.csv"
        path, _ = QFileDialog.getSaveFileName(self.services.window, "Export label statistics",
                                              str(suggested), "CSV (*.csv)")
        if path:
            self.export_stats(path)

    def export_stats(self, path: str | Path):
        """Write the active labels layer's statistics to ``path`` on the job runner → the Job."""
        layer = self._labels("Label Statistics")
        if layer is None:
            return None
        out = Path(path)
        if out.suffix.lower() != ".csv" or not out.parent.is_dir():
            self.services.status(f"Label statistics go to a .csv file in an existing folder, not {out.name}")
            return None
        src = layer.volume
        self.stats_watcher = submit_watched(
            self.services.jobs, label_statistics, self.services.model.image.volume,
            Volume(src.array.copy(), src.geometry, src.modality), layer.table, out,
            parent=self.services.window, name="label statistics", on_finished=self._stats_done)
        return self.stats_watcher.job

    def _stats_done(self, job) -> None:
        self.stats_watcher = None
        path, error = outcome(job)
        if error is None:
            self.services.status(f"Wrote {path}", 10000)
            return
        text = error_text(error)
        log.warning("label statistics: %s", text)
        self.services.status(f"The label statistics were not written: {text}", 10000)

    def open(self):
        window = self.services.window
        layer = self._labels("Report")
        if layer is None:
            return None
        paths = window.recent.paths
        self.dialog = ReportDialog(self.services, layer, Path(paths[0]).parent if paths else None)
        self.dialog.written.connect(lambda p: self.services.status(
            "Wrote " + ", ".join(str(x) for x in p), 10000))
        self.dialog.open()
        return self.dialog


def install(services) -> None:
    services.report = ReportFeature(services)
