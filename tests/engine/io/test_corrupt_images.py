"""Corrupt NIfTI/NRRD/MHA data never loads silently: it is refused, or the volume says what is wrong."""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from engine.cli import main
from engine.errors import InputError
from engine.io import load, write_image
from engine.io.image_checks import sanitize_nonfinite
from tests.engine.io.helpers import phantom

DATA = (np.arange(6 * 16 * 16) % 200 + 1).astype(np.int16).reshape(6, 16, 16)


def _nifti(path, affine_q=None, qcode=1, affine_s=None, scode=1, data=None, pixdim=None):
    """A nibabel NIfTI with chosen qform/sform; ``pixdim`` (x, y, z) patched in afterwards."""
    base = np.diag([2.0, 3.0, 4.0, 1.0])
    img = nib.Nifti1Image(np.zeros((4, 5, 6), np.int16) if data is None else data, base)
    img.set_qform(base if affine_q is None else affine_q, code=qcode)
    img.set_sform(base if affine_s is None else affine_s, code=scode)
    nib.save(img, path)
    if pixdim is not None:
        raw = bytearray(path.read_bytes())
        struct.pack_into("<3f", raw, 80, *pixdim)
        path.write_bytes(bytes(raw))
    return path


# Short but complete compressed streams ------------------------------------------------------
def test_nii_gz_whose_stream_is_short_is_refused(tmp_path):
    full = write_image(phantom(), tmp_path / "full.nii").read_bytes()
    path = tmp_path / "short.nii.gz"
    path.write_bytes(gzip.compress(full[: 352 + (len(full) - 352) // 20]))  # a valid, complete gzip
    with pytest.raises(InputError, match=r"holds 5 % of the pixel bytes its header declares"):
        load(path)


def test_nii_missing_its_last_bytes_is_refused(tmp_path):
    full = write_image(phantom(), tmp_path / "full.nii").read_bytes()
    path = tmp_path / "cut.nii"
    path.write_bytes(full[:-200])  # fewer missing bytes than the header holds
    with pytest.raises(InputError, match="damaged or truncated"):
        load(path)


def test_nrrd_whose_gzip_stream_is_short_is_refused(tmp_path):
    raw = write_image(phantom(), tmp_path / "full.nrrd").read_bytes()
    cut = raw.index(b"\n\n") + 2
    path = tmp_path / "short.nrrd"
    path.write_bytes(raw[:cut] + gzip.compress(gzip.decompress(raw[cut:])[:200]))
    with pytest.raises(InputError, match="damaged or truncated"):
        load(path)


@pytest.mark.parametrize("keep_size_field", [True, False])
def test_mha_whose_zlib_stream_is_short_is_refused(tmp_path, keep_size_field):
    raw = write_image(phantom(), tmp_path / "full.mha").read_bytes()
    end = raw.index(b"ElementDataFile = LOCAL\n") + len(b"ElementDataFile = LOCAL\n")
    short = zlib.compress(zlib.decompress(raw[end:])[:300])
    header = raw[:end]
    header = (re.sub(rb"CompressedDataSize = \d+", b"CompressedDataSize = %d" % len(short), header)
              if keep_size_field else re.sub(rb"CompressedDataSize = \d+\n", b"", header))
    path = tmp_path / "short.mha"
    path.write_bytes(header + short)
    with pytest.raises(InputError, match="holds 5 % of the pixel bytes"):
        load(path)


def test_mhd_whose_zraw_is_short_is_refused(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(DATA), str(tmp_path / "v.mhd"), useCompression=True)
    zraw = tmp_path / "v.zraw"
    zraw.write_bytes(zlib.compress(zlib.decompress(zraw.read_bytes())[:100]))
    with pytest.raises(InputError, match="pixel bytes its header declares"):
        load(tmp_path / "v.mhd")


# Missing spacing ----------------------------------------------------------------------------
@pytest.mark.parametrize("pixdim, codes", [((0.0, 3.0, 4.0), (1, 0)), ((float("nan"), 3.0, 4.0), (1, 0)),
                                           ((0.0, 0.0, 0.0), (0, 0)), ((0.0, 3.0, 4.0), (1, 1))])
def test_nifti_pixdim_zero_or_nan_loads_with_a_warning(tmp_path, pixdim, codes):
    path = _nifti(tmp_path / "p.nii", qcode=codes[0], scode=codes[1], pixdim=pixdim)
    volume = load(path)
    assert volume.spacing[0] == 1.0
    assert any("voxel spacing missing in the file" in w and "1 mm assumed" in w and "x" in w
               for w in volume.warnings), volume.warnings


def test_metaimage_and_nrrd_without_spacing_say_so(tmp_path):
    (tmp_path / "a.raw").write_bytes(bytes(64))
    (tmp_path / "a.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\n"
                                    "ElementType = MET_UCHAR\nElementDataFile = a.raw\n")
    (tmp_path / "a.nhdr").write_text("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\n"
                                     "encoding: raw\ndata file: a.raw\n")
    for name in ("a.mhd", "a.nhdr"):
        assert any("voxel spacing missing" in w for w in load(tmp_path / name).warnings)


# Non-finite voxels --------------------------------------------------------------------------
def _float_with_nonfinite():
    data = np.linspace(-5, 5, 6 * 16 * 16, dtype=np.float32).reshape(6, 16, 16)
    data[0, 0, :5] = np.nan
    data[1, 2, 3] = np.inf
    data[2, 3, 4] = -np.inf
    return data


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_nan_and_inf_voxels_are_replaced_and_stated(tmp_path, suffix):
    data = _float_with_nonfinite()
    path = tmp_path / f"f{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(data), str(path))
    volume = load(path)
    assert np.all(np.isfinite(volume.array))
    assert np.all(volume.array[0, 0, :5] == 0) and volume.array[1, 2, 3] == 0 and volume.array[2, 3, 4] == 0
    finite = np.isfinite(data)
    np.testing.assert_array_equal(volume.array[finite], data[finite])
    assert any("5 voxels hold no number (NaN) and 2 are infinite" in w and "set to 0" in w
               for w in volume.warnings), volume.warnings


def test_sanitize_nonfinite_is_reusable_for_any_array():
    assert sanitize_nonfinite(np.zeros((2, 2, 2), np.int16)) is None
    assert sanitize_nonfinite(np.ones((2, 2, 2))) is None
    allnan = np.full((2, 3, 4), np.nan)
    assert "24 voxels hold no number" in sanitize_nonfinite(allnan)
    assert np.all(allnan == 0)


# qform / sform ------------------------------------------------------------------------------
def _shifted(dx):
    a = np.diag([2.0, 3.0, 4.0, 1.0])
    a[0, 3] = dx
    return a


@pytest.mark.parametrize("scode, used", [(1, "sform"), (2, "qform")])
def test_qform_and_sform_that_disagree_say_which_was_used(tmp_path, scode, used):
    volume = load(_nifti(tmp_path / "d.nii.gz", affine_s=_shifted(10.0), scode=scode))
    assert any("qform and sform" in w and "10.0 mm" in w and f"the {used} was used" in w
               for w in volume.warnings), volume.warnings
    expected_x = -10.0 if used == "sform" else 0.0  # LPS x of the chosen origin
    assert volume.origin[0] == pytest.approx(expected_x)


def test_sheared_sform_with_a_qform_says_the_shear_is_ignored(tmp_path):
    shear = np.array([[2.0, 1.2, 0, 0], [0, 3.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 1]])
    volume = load(_nifti(tmp_path / "s.nii", affine_s=shear))
    assert any("sheared" in w and "qform was used" in w for w in volume.warnings), volume.warnings


def test_consistent_files_carry_no_warning(tmp_path):
    """No false alarms: oblique files written by SimpleITK and by nibabel load without a word."""
    write_image(phantom(oblique=True), tmp_path / "itk.nii.gz")
    c, s = np.cos(0.4), np.sin(0.4)
    affine = np.array([[0.8 * c, -0.8 * s, 0, 10], [0.8 * s, 0.8 * c, 0, -20], [0, 0, 2.5, 30], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(np.zeros((30, 20, 10), np.float32), affine), tmp_path / "nib.nii.gz")
    for name in ("itk.nii.gz", "nib.nii.gz"):
        assert load(tmp_path / name).warnings == []


def test_big_endian_nifti_header_is_read(tmp_path):
    path = _nifti(tmp_path / "le.nii", affine_s=_shifted(10.0))
    img = nib.load(path)
    be = nib.Nifti1Image(np.asarray(img.dataobj), None, img.header.as_byteswapped(">"))
    nib.save(be, tmp_path / "be.nii")
    assert nib.load(tmp_path / "be.nii").header.endianness == ">"
    assert any("qform and sform" in w for w in load(tmp_path / "be.nii").warnings)


def test_warnings_reach_the_json_output(tmp_path, capsys):
    path = _nifti(tmp_path / "p.nii", qcode=1, scode=0, pixdim=(0.0, 3.0, 4.0))
    assert main(["info", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any("voxel spacing missing" in w for w in doc["warnings"])
