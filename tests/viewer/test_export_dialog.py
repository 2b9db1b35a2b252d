"""File › Export Segmentation… and File › Import Segmentation…: real dialogs, real files."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.export import import_seg
from engine.jobs import JobRunner
from engine.labels import LabelInfo, LabelTable
from tests.engine.export.data import asymmetric_mask, make_series
from viewer.qt.app import create_application
from viewer.qt.features.export import ExportDialog, import_segmentation
from viewer.qt.main_window import MainWindow

WAIT_MS = 120_000  # generous: the worker may queue behind other jobs on a busy machine


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    series = make_series(tmp_path_factory.mktemp("study") / "series")
    labels = series.reference.with_array(asymmetric_mask(series.reference.geometry.shape),
                                         modality="SEG", metadata={})
    table = LabelTable([LabelInfo(1, "grey matter", (170, 170, 170)),
                        LabelInfo(2, "white matter", (250, 250, 225)),
                        LabelInfo(3, "lesion", (230, 25, 75))])
    return series, labels, table


@pytest.fixture
def runner():
    r = JobRunner(max_workers=1)
    yield r
    r.shutdown()


def test_dialog_exports_a_seg_and_it_reimports_identically(qtbot, study, runner, tmp_path):
    create_application()
    series, labels, table = study
    dialog = ExportDialog(labels, table, series.reference, runner, folder=tmp_path, name="case")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.label_list.count() == 3 and dialog.selected_labels() == (1, 2, 3)
    assert dialog.destination.text() == str(tmp_path / "case.nii.gz")
    dialog.set_format("seg")
    assert dialog.destination.text() == str(tmp_path / "case.dcm") and dialog.seg_type.isEnabled()
    dialog.deidentify.setChecked(True)                 # de-identified SEG: images always written
    assert dialog.include_image.isChecked() and not dialog.include_image.isEnabled()
    dialog.keep_ids.setChecked(True)
    assert dialog.include_image.isEnabled()
    dialog.include_image.setChecked(False)
    dialog.label_list.item(1).setCheckState(Qt.CheckState.Unchecked)      # not white matter
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    out = tmp_path / "case.dcm"
    assert result.path == out and out.is_file()
    assert dialog.success_box is not None and str(out) in dialog.success_box.text()
    dialog.success_box.close()
    seg = hd.seg.segread(out)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["grey matter", "lesion"]
    back = import_seg(out, series.reference, label_names=table)
    expected = np.where(labels.array == 2, 0, labels.array)
    assert np.array_equal(back.labels.array, expected)


def test_dialog_reports_a_missing_reference_and_writes_nothing(qtbot, study, runner, tmp_path):
    create_application()
    series, labels, table = study
    meta = dict(series.reference.metadata,
                source_files=[str(tmp_path / "gone" / f"IM{k}.dcm") for k in range(14)])
    reference = series.reference.with_array(series.reference.array, metadata=meta)
    dialog = ExportDialog(labels, table, reference, runner, folder=tmp_path, name="x")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_format("seg")
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "reference series is missing" in blocker.args[0]
    assert "reference series is missing" in dialog.status.text()
    assert list(tmp_path.iterdir()) == []


def test_window_menu_export_then_import_round_trip(qtbot, study, tmp_path):
    create_application()
    series, labels, table = study
    window = MainWindow()
    qtbot.addWidget(window)
    texts = [a.text() for a in window.file_menu.actions()]
    assert "&Export Segmentation…" in texts and "I&mport Segmentation…" in texts
    assert texts.index("I&mport Segmentation…") < texts.index("&Quit")
    window.services.model.open_volume(series.reference)
    window.services.model.layers.add_labels(labels, table, name="brain")
    window.services.export.action_export_seg.trigger()
    dialog = window.services.export.dialog
    dialog.set_format("nrrd")
    out = tmp_path / "brain.nrrd"
    dialog.destination.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    dialog.success_box.close()
    window.services.export.action_export_seg.trigger()                  # and once more as a DICOM SEG
    dialog = window.services.export.dialog
    dialog.set_format("seg")
    seg_out = tmp_path / "brain_seg.dcm"
    dialog.destination.setText(str(seg_out))
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    dialog.success_box.close()
    for path, name in ((out, "brain"), (seg_out, "brain_seg")):
        before = len(window.services.model.layers)
        import_segmentation(window.services, str(path))
        qtbot.waitUntil(lambda n=before: len(window.services.model.layers) == n + 1, timeout=WAIT_MS)
        layer = window.services.model.layers.active_labels
        assert layer.name == name
        assert np.array_equal(layer.volume.array, labels.array)
        assert [(l.id, l.name) for l in layer.table] == [(l.id, l.name) for l in table]
        assert all(np.abs(np.subtract(layer.color(l.id), l.color)).max() <= 2 for l in table)


def test_selected_heatmap_exports_as_a_float_map(qtbot, study, tmp_path):
    import nibabel as nib

    create_application()
    series, labels, table = study
    window = MainWindow()
    qtbot.addWidget(window)
    window.services.model.open_volume(series.reference)
    prob = series.reference.with_array((labels.array == 2).astype(np.float32) * 0.9, modality="OT",
                                       metadata={"kind": "probability"})
    window.services.model.layers.add_heatmap(prob, name="P(white matter)", value_range=(0.0, 1.0))
    window.services.export.action_export_seg.trigger()
    dialog = window.services.export.dialog
    assert dialog.kind.currentText() == "probability"
    out = tmp_path / "p_wm.nii.gz"
    dialog.destination.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    data = np.asarray(nib.load(out).dataobj).transpose(2, 1, 0)
    assert data.dtype == np.float32 and np.array_equal(data, prob.array)


def test_importing_a_seg_of_another_scan_reports_a_plain_error(qtbot, study):
    from pydicom.data import get_testdata_file

    create_application()
    series, labels, table = study
    window = MainWindow()
    qtbot.addWidget(window)
    window.services.model.open_volume(series.reference)
    before = len(window.services.model.layers)
    import_segmentation(window.services, get_testdata_file("liver.dcm"))   # another frame of reference
    qtbot.waitUntil(lambda: bool(window.services.messages.texts("error")), timeout=WAIT_MS)
    (error,) = window.services.messages.texts("error")
    assert "liver.dcm" in error and "another scan" in error and "Traceback" not in error
    assert len(window.services.model.layers) == before
