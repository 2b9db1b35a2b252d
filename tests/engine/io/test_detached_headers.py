"""Detached headers (.mhd, .nhdr, data-file fields in .mha/.nrrd, .hdr/.img pairs) stay in their folder.

Each hostile header points at a canary file outside its folder; loading must refuse before any of
its bytes become voxels, and ``candor convert`` must write nothing. Honest headers still load.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import SimpleITK as sitk

from engine.cli import main
from engine.errors import InputError
from engine.io import load, read_image

CANARY = b"CANARY-SECRET-" * 8  # 112 bytes: enough for a 4×4×4 uchar image
META = "ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementSpacing = 1 1 1\nElementType = MET_UCHAR\n"
NRRD = "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nspacings: 1 1 1\nencoding: raw\n"


@pytest.fixture
def case(tmp_path):
    """``case/`` holds the header; ``outside/secret.raw`` (and numbered copies) lie beside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.raw").write_bytes(CANARY)
    for i in range(1, 5):
        (outside / f"s{i}.raw").write_bytes(CANARY[:16])
    folder = tmp_path / "case"
    folder.mkdir()
    return folder


def _write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def _refused(path, capsys, tmp_path):
    with pytest.raises(InputError, match="own folder|absolute path|links outside"):
        load(path)
    out = tmp_path / "leak.nii.gz"
    rc = main(["convert", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0
    assert not out.exists()
    assert err.startswith("error: ") and ("folder" in err or "absolute" in err)
    assert "Traceback" not in err and "CANARY" not in err and "secret" not in err


@pytest.mark.parametrize("value", ["{outside}/secret.raw", "../outside/secret.raw",
                                   "sub/../../outside/secret.raw", "..\\outside\\secret.raw"])
def test_mhd_data_file_outside_is_refused(case, capsys, tmp_path, value):
    value = value.format(outside=tmp_path / "outside")
    _refused(_write(case, "a.mhd", META + f"ElementDataFile = {value}\n"), capsys, tmp_path)


def test_mha_naming_an_outside_file_is_refused(case, capsys, tmp_path):
    header = META + f"ElementDataFile = {tmp_path / 'outside' / 'secret.raw'}\n"
    _refused(_write(case, "a.mha", header), capsys, tmp_path)


def test_mhd_symlink_pointing_out_is_refused(case, capsys, tmp_path):
    os.symlink(tmp_path / "outside" / "secret.raw", case / "data.raw")
    _refused(_write(case, "a.mhd", META + "ElementDataFile = data.raw\n"), capsys, tmp_path)


def test_mhd_gz_fallback_symlink_pointing_out_is_refused(case, capsys, tmp_path):
    """MetaIO opens ``name.gz`` when ``name`` is absent: that name is checked too."""
    os.symlink(tmp_path / "outside" / "secret.raw", case / "data.raw.gz")
    _refused(_write(case, "a.mhd", META + "ElementDataFile = data.raw\n"), capsys, tmp_path)


def test_mhd_list_with_one_entry_outside_is_refused(case, capsys, tmp_path):
    for i in range(3):
        (case / f"s{i}.raw").write_bytes(bytes(16))
    listing = "s0.raw\ns1.raw\ns2.raw\n../outside/s4.raw\n"
    _refused(_write(case, "a.mhd", META + "ElementDataFile = LIST\n" + listing), capsys, tmp_path)


def test_mhd_pattern_escaping_its_folder_is_refused(case, capsys, tmp_path):
    _refused(_write(case, "a.mhd", META + "ElementDataFile = ../outside/s%d.raw 1 4 1\n"),
             capsys, tmp_path)


@pytest.mark.parametrize("value", ["s%s.raw 1 4 1", "s%d%d.raw 1 4 1", "s%d.raw 1 4 0", "s%d.raw 1 3",
                                   "s%n.raw 1 4 1"])
def test_mhd_patterns_a_reader_would_crash_on_are_refused(case, value):
    path = _write(case, "a.mhd", META + f"ElementDataFile = {value}\n")
    with pytest.raises(InputError, match="pattern|step"):
        load(path)


@pytest.mark.parametrize("field", ["data file", "datafile"])
@pytest.mark.parametrize("value", ["{outside}/secret.raw", "../../outside/secret.raw",
                                   "../outside/secret.raw"])
def test_nhdr_data_file_outside_is_refused(case, capsys, tmp_path, field, value):
    value = value.format(outside=tmp_path / "outside")
    _refused(_write(case, "a.nhdr", NRRD + f"{field}: {value}\n"), capsys, tmp_path)


def test_nhdr_list_and_pattern_outside_are_refused(case, capsys, tmp_path):
    (case / "s1.raw").write_bytes(bytes(16))
    _refused(_write(case, "l.nhdr", NRRD + "data file: LIST 2\ns1.raw\n../outside/s2.raw\n"),
             capsys, tmp_path)
    _refused(_write(case, "p.nhdr", NRRD + "data file: ../outside/s%d.raw 1 4 1 2\n"),
             capsys, tmp_path)


def test_nhdr_symlink_pointing_out_is_refused(case, capsys, tmp_path):
    os.symlink(tmp_path / "outside", case / "linked")
    _refused(_write(case, "a.nhdr", NRRD + "data file: linked/secret.raw\n"), capsys, tmp_path)


def test_attached_nrrd_with_a_data_file_field_is_refused(case, capsys, tmp_path):
    _refused(_write(case, "a.nrrd", NRRD + "data file: ../outside/secret.raw\n\n"), capsys, tmp_path)


def test_analyze_pair_with_img_linked_outside_is_refused(case, tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 4, 4), np.uint8)), str(case / "a.hdr"))
    assert read_image(case / "a.hdr").size == (4, 4, 4)  # the honest pair reads
    (case / "a.img").unlink()
    os.symlink(tmp_path / "outside" / "secret.raw", case / "a.img")
    with pytest.raises(InputError, match="links outside"):
        read_image(case / "a.hdr")


# Honest detached headers keep working --------------------------------------------------------
def test_sitk_written_mhd_and_nhdr_still_load(case):
    array = np.arange(64, dtype=np.uint8).reshape(4, 4, 4)
    image = sitk.GetImageFromArray(array)
    for name in ("v.mhd", "v.nhdr"):
        sitk.WriteImage(image, str(case / name))
        volume = load(case / name)
        np.testing.assert_array_equal(volume.array, array)
        assert volume.warnings == []


def test_list_pattern_subfolder_and_inner_symlink_load(case):
    array = np.arange(64, dtype=np.uint8).reshape(4, 4, 4)
    (case / "slices").mkdir()
    for k in range(4):
        (case / "slices" / f"s{k + 1:02d}.raw").write_bytes(array[k].tobytes())
    os.symlink(case / "slices", case / "alias")
    headers = {
        "list.mhd": META + "ElementDataFile = LIST\n" + "".join(f"slices/s{k:02d}.raw\n" for k in range(1, 5)),
        "pattern.mhd": META + "ElementDataFile = alias/s%02d.raw 1 4 1\n",
        "list.nhdr": NRRD + "data file: LIST 2\n" + "".join(f"slices/s{k:02d}.raw\n" for k in range(1, 5)),
        "pattern.nhdr": NRRD + "data file: alias/s%02d.raw 1 4 1 2\n",
    }
    for name, text in headers.items():
        volume = load(_write(case, name, text))
        np.testing.assert_array_equal(volume.array, array)
