"""File › Report…: a DICOM series written by the test, opened in the real main window, a corrected
AI layer with two lesions, a ruler in the Measurements dock; the PDF is read back by PDFium and
the SR by highdicom, with the numbers of the lesion table and no identifier unless ticked."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pypdfium2 as pdfium
import pytest
from PySide6.QtWidgets import QApplication

from engine.io import load, write_series
from engine.labels import LabelInfo, LabelTable
from engine.reading import distance, lesion_table
from engine.volume import Geometry, Volume
from tests.viewer.edit_helpers import activate
from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow
from viewer.state.provenance import LayerProvenance, Role

pytestmark = pytest.mark.gui

NAME, PID = "CANARY^DIALOGPATIENT", "CANARY-DLG-7"
TABLE = LabelTable([LabelInfo(1, "Edema", (0, 200, 0)), LabelInfo(2, "Lesion", (230, 25, 75))])
GEOMETRY = Geometry((48, 40, 8), (0.9, 0.9, 3.0), (-20.0, -18.0, 0.0))


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-dialog") / "SER"
    arr = np.full(GEOMETRY.shape, 300, np.int16)
    arr[2:6, 10:20, 10:24] = 700
    write_series(Volume(arr, GEOMETRY, "MR"), folder, modality="MR", patient_name=NAME,
                 patient_id=PID, series_description="T1 axial")
    return folder


def _labels() -> np.ndarray:
    lab = np.zeros(GEOMETRY.shape, np.uint8)
    lab[2:6, 10:20, 10:24] = 2            # 4 × 10 × 14 = 560 voxels
    lab[6, 30:33, 36:40] = 2              # 12 voxels
    lab[1, 0:3, 0:3] = 1
    return lab


def _window(qtbot, series, *, flagged: bool):
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    qtbot.waitExposed(window)
    activate(qtbot, window)
    image = load(series)
    window.services.model.open_volume(image)
    ood = {"flag": flagged, "reasons": ["weak energy"] if flagged else []}
    prov = LayerProvenance("candor-brain-t1", "2.0.0", None, flagged, ood)
    window.services.model.layers.add_labels(image.with_array(_labels(), modality="SEG"), TABLE,
                                            name="AI segmentation (corrected)",
                                            role=Role.CORRECTED, provenance=prov)
    QApplication.processEvents()
    return window, image


def _write(qtbot, window, out, *, identifiers=False):
    dialog = window.services.report.open()
    assert dialog is not None
    assert dialog.label() == 2                                 # "Lesion" is the default
    assert "T1_axial" in dialog.path_edit.text() and NAME.split("^")[1] not in dialog.path_edit.text()
    dialog.path_edit.setText(str(out))
    dialog.identifiers_box.setChecked(identifiers)
    with qtbot.waitSignal(dialog.written, timeout=30000) as blocker:
        dialog.write_button.click()
    return dialog, blocker.args[0]


def _pdf_text(path) -> str:
    pdf = pdfium.PdfDocument(str(path))
    return "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


def test_report_pdf_and_sr_carry_the_findings_measurements_and_verdict(qtbot, series, tmp_path):
    window, image = _window(qtbot, series, flagged=True)
    ruler = distance(image.geometry, (10, 10, 3), (20, 10, 3), name="lesion width")
    window.services.measurements.add(ruler)
    out = tmp_path / "read.pdf"
    dialog, paths = _write(qtbot, window, out)
    assert paths == [out, tmp_path / "read_SR.dcm"]
    text = _pdf_text(out)
    rows = lesion_table(image.with_array(_labels()), 2)
    for r in rows:
        assert f"{r.volume_ml:.3f}" in text
    assert "lesion width" in text and f"{ruler.value:.1f} mm" in text
    assert "Caution" in text and "weak energy" in text and "A person corrected" in text
    assert NAME.split("^")[1] not in text and PID not in text
    sr = hd.sr.srread(paths[1])
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 2
    planar = sr.content.get_planar_roi_measurement_groups()
    assert [str(g.tracking_identifier) for g in planar] == ["lesion width"]


def test_identifiers_only_when_ticked_and_html_too(qtbot, series, tmp_path):
    window, _image = _window(qtbot, series, flagged=False)
    out = tmp_path / "named.html"
    _dialog, paths = _write(qtbot, window, out, identifiers=True)
    page = out.read_text(encoding="utf-8")
    assert PID in page and "DIALOGPATIENT" in page
    assert "no warning was raised" in page
    assert paths[0] == out


def test_bad_destination_and_nothing_to_report_are_plain(qtbot, series, tmp_path, monkeypatch):
    window, _image = _window(qtbot, series, flagged=False)
    dialog = window.services.report.open()
    messages = []
    dialog.failed.connect(messages.append)
    dialog.path_edit.setText(str(tmp_path / "report.docx"))
    dialog.write_button.click()
    dialog.path_edit.setText(str(tmp_path / "nowhere" / "report.pdf"))
    dialog.write_button.click()
    assert messages == ["Write the report to a .pdf or .html file, not report.docx.",
                        "The folder for report.pdf does not exist."]
    assert dialog.watcher is None and not list(tmp_path.iterdir())
    dialog.reject()
    # with no labels layer the action explains instead of opening a dialog
    from PySide6.QtWidgets import QMessageBox
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: shown.append(a[2]))
    model = window.services.model
    model.layers.remove(model.layers.active_labels)
    assert window.services.report.open() is None
    assert shown and "nothing to report" in shown[0]


def test_label_statistics_csv_matches_the_engine(qtbot, series, tmp_path):
    import csv

    from engine.reading.stats import label_stats

    window, image = _window(qtbot, series, flagged=False)
    out = tmp_path / "stats.csv"
    feature = window.services.report
    job = feature.export_stats(out)
    assert job is not None
    qtbot.waitUntil(lambda: feature.stats_watcher is None, timeout=20000)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    truth = {r.id: r for r in label_stats(image, image.with_array(_labels()), TABLE)}
    assert {int(r["id"]) for r in rows} == set(truth) == {1, 2}
    for r in rows:
        t = truth[int(r["id"])]
        assert int(r["voxels"]) == t.voxels
        assert float(r["mean"]) == pytest.approx(t.mean, abs=1e-3)
    lesion = next(r for r in rows if int(r["id"]) == 2)
    assert int(lesion["voxels"]) == 572 and float(lesion["mean"]) == pytest.approx(
        (560 * 700 + 12 * 300) / 572, abs=1e-3)
    assert feature.export_stats(tmp_path / "stats.txt") is None      # refused, said in the status
    assert "not stats.txt" in window.statusBar().currentMessage()
