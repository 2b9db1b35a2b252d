"""NIfTI / NRRD / MHA through SimpleITK: geometry kept, left stays left, bad headers refused."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import InputError
from engine.io import load, read_image, write_image, write_series
from tests.engine.io.corpus import int16_bytes, peak_allocation, write_nifti_with_header
from tests.engine.io.helpers import lr_phantom, phantom


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_round_trip_keeps_geometry_and_values(tmp_path, suffix):
    vol = phantom(oblique=True)
    path = write_image(vol, tmp_path / f"v{suffix}")
    back = load(path)
    assert back.geometry.is_close(vol.geometry)
    np.testing.assert_array_equal(back.array, vol.array)
    assert back.metadata["source_format"] in ("nifti", "nrrd", "metaimage")


def test_left_right_phantom_dicom_nifti_dicom(tmp_path):
    """The block on the patient's left stays on the left through every conversion."""
    vol = lr_phantom()
    write_series(vol, tmp_path / "dcm1")
    from_dicom = load(tmp_path / "dcm1")
    nifti = write_image(from_dicom, tmp_path / "lr.nii.gz")
    # another tool's view: nibabel works in RAS+, where patient left is -x
    img = nib.load(nifti)
    k, j, i = np.argwhere(from_dicom.array == 500).mean(axis=0)
    x_ras = (img.affine @ [i, j, k, 1])[0]
    assert x_ras < 0
    assert nib.aff2axcodes(img.affine) == ("L", "P", "S")  # i runs toward the patient's left
    from_nifti = load(nifti)
    write_series(from_nifti, tmp_path / "dcm2")
    again = load(tmp_path / "dcm2")
    np.testing.assert_array_equal(again.array, vol.array)
    assert again.geometry.is_close(vol.geometry)
    centre = again.geometry.index_to_physical(np.argwhere(again.array == 500).mean(axis=0)[::-1])
    assert centre[0] > 0  # LPS +x = patient left


def test_mask_written_by_nibabel_lines_up_with_the_dicom(tmp_path):
    vol = lr_phantom()
    write_series(vol, tmp_path / "dcm")
    image = load(tmp_path / "dcm")
    # a mask made by a RAS tool: voxel (i, j, k) of the image in RAS via the LPS affine
    lps = image.geometry.affine_lps
    ras = np.diag([-1, -1, 1, 1]) @ lps
    mask = (np.transpose(image.array, (2, 1, 0)) == 500).astype(np.uint8)
    nib.save(nib.Nifti1Image(mask, ras), tmp_path / "mask.nii.gz")
    loaded = load(tmp_path / "mask.nii.gz")
    assert loaded.geometry.is_close(image.geometry)
    np.testing.assert_array_equal(loaded.array.astype(bool), image.array == 500)


def test_nifti_with_nan_pixdim_is_refused(tmp_path):
    path = tmp_path / "nan.nii"
    write_nifti_with_header(path, (4, 4, 4), (float("nan"), 1.0, 1.0), int16_bytes(64))
    with pytest.raises(InputError, match="spacing|orientation|origin"):
        load(path)


def test_truncated_nii_gz_is_a_clear_error(tmp_path):
    vol = phantom(nz=8, ny=32, nx=32)
    full = write_image(vol, tmp_path / "full.nii.gz").read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(InputError, match="damaged or truncated: its compressed data ends early"):
        load(cut)


def test_nifti_declaring_huge_dims_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.nii"
    write_nifti_with_header(path, (30000, 30000, 3000), (1.0, 1.0, 1.0), int16_bytes(64))
    with peak_allocation() as mem:
        with pytest.raises(InputError, match="cannot hold them"):
            load(path)
    assert mem["peak"] < 50e6


def test_gzip_bomb_sized_header_is_refused(tmp_path):
    path = tmp_path / "bomb.nii.gz"
    raw = tmp_path / "raw.nii"
    write_nifti_with_header(raw, (4000, 4000, 400), (1.0, 1.0, 1.0), int16_bytes(64))
    path.write_bytes(gzip.compress(raw.read_bytes()))
    with pytest.raises(InputError, match="cannot hold them"):
        load(path)


def test_non_orthonormal_nifti_direction_is_refused(tmp_path):
    affine = np.array([[1.0, 0.6, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), affine)
    img.set_qform(None, code=0)
    img.set_sform(affine, code=1)
    nib.save(img, tmp_path / "skew.nii.gz")
    with pytest.raises(InputError, match="non-orthonormal"):
        load(tmp_path / "skew.nii.gz")


def test_four_d_nifti_first_volume_with_warning(tmp_path):
    data = np.arange(4 * 5 * 6 * 2, dtype=np.int16).reshape(4, 5, 6, 2)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "4d.nii.gz")
    volume = read_image(tmp_path / "4d.nii.gz")
    assert volume.size == (4, 5, 6)
    np.testing.assert_array_equal(volume.array, np.transpose(data[..., 0], (2, 1, 0)))
    assert any("4-D" in w for w in volume.warnings)


def test_write_rejects_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="cannot write"):
        write_image(phantom(), tmp_path / "v.png")


def test_sitk_agrees_with_our_nifti(tmp_path):
    vol = phantom(oblique=True)
    path = write_image(vol, tmp_path / "v.nii.gz")
    img = sitk.ReadImage(str(path))
    np.testing.assert_allclose(img.GetDirection(), vol.geometry.direction, atol=1e-5)
