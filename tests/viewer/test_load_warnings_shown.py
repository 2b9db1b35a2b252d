"""A volume's load warnings reach the Messages panel through the viewer's normal open path (issue 13):
NaN voxels in a NIfTI, and DICOM slices sharing one SOP Instance UID."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from engine.io import write_series
from tests.viewer.conftest import synthetic_ct

NAN_NOTE = "voxels hold no number (NaN)"
SOP_NOTE = "slices share one SOP Instance UID at different positions; all were kept"


def _open(window, qtbot, path) -> None:
    with qtbot.waitSignal(window.services.opener.opened, timeout=20000):
        window.open_path(str(path))


def test_nan_voxels_in_a_nifti_are_stated_in_the_messages_panel(reading_window, qtbot, tmp_path):
    data = np.linspace(-100, 100, 6 * 16 * 16, dtype=np.float32).reshape(6, 16, 16)
    data[2, 3, :4] = np.nan
    path = tmp_path / "nan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(data), str(path))
    _open(reading_window, qtbot, path)
    image = reading_window.services.model.image
    assert image is not None and np.all(np.isfinite(image.volume.array))
    notes = reading_window.services.messages.texts("warning")
    assert any(f"4 {NAN_NOTE}" in n and "set to 0" in n for n in notes), notes
    assert reading_window.services.messages.isVisible()


def test_shared_sop_uids_are_stated_in_the_series_table_and_messages(reading_window, qtbot,
                                                                     tmp_path):
    def same_uid(ds, k):
        ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.42"

    folder = tmp_path / "study"
    write_series(synthetic_ct(shape=(5, 24, 20)), folder, edit=same_uid)
    _open(reading_window, qtbot, folder)  # one series: the browser opens it directly
    browser = reading_window.services.opener.browser
    assert SOP_NOTE in browser.table.item(0, 5).text()
    assert reading_window.services.model.image.volume.size[2] == 5  # all slices kept
    notes = reading_window.services.messages.texts("warning")
    assert any(f"5 {SOP_NOTE}" in n for n in notes), notes
    assert reading_window.services.messages.isVisible()
