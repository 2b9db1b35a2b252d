"""engine.io.nifti_write: the one-pass .nii writer, checked against SimpleITK's writer and reader
and nibabel's reader (the oracles), on oblique and left-handed grids and every integer type."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from engine.io import read_image, write_image
from engine.io.nifti_write import can_write, write_nifti
from engine.volume import Geometry, Volume
from tests.engine.io.helpers import rotation

DIRECTIONS = {
    "identity": np.eye(3),
    "oblique": rotation(0.2, -0.15, 0.3),
    "far oblique": rotation(2.5, 1.0, -2.9),
    "left-handed": rotation(0.3, 0.1, 3.0) @ np.diag([1.0, -1.0, 1.0]),
    "sagittal": np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
}


def _volume(direction, dtype=np.int16, nz=5) -> Volume:
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    lo, hi = (max(info.min, -30000), min(info.max, 30000)) if info else (-5, 5)
    array = rng.uniform(lo, hi, size=(nz, 6, 7)).astype(dtype)
    return Volume(array, Geometry((7, 6, nz), (0.7, 0.8, 2.5), (10.0, -20.0, 30.0),
                                  np.asarray(direction).ravel()), "CT")


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_same_geometry_and_voxels_as_simpleitk_writes(tmp_path, name):
    volume = _volume(DIRECTIONS[name])
    ours, theirs = tmp_path / "ours.nii", tmp_path / "sitk.nii"
    write_nifti(volume, ours)
    sitk.WriteImage(volume.to_sitk(), str(theirs), useCompression=False)
    a, b = sitk.ReadImage(str(ours)), sitk.ReadImage(str(theirs))
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)
    np.testing.assert_allclose(a.GetDirection(), volume.geometry.direction, atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), volume.array)
    na, nb = nib.load(ours), nib.load(theirs)  # nibabel: qform, sform and qfac agree with ITK's
    np.testing.assert_allclose(na.affine, nb.affine, atol=1e-4)
    np.testing.assert_allclose(na.header.get_qform(), nb.header.get_qform(), atol=1e-4)
    assert na.header["pixdim"][0] == nb.header["pixdim"][0]
    assert (int(na.header["qform_code"]), int(na.header["sform_code"])) == (1, 1)
    np.testing.assert_array_equal(np.asarray(na.dataobj), np.asarray(nb.dataobj))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.float32, np.float64])
def test_every_type_reads_back_exactly(tmp_path, dtype):
    volume = _volume(DIRECTIONS["oblique"], dtype)
    out = write_image(volume, tmp_path / "v.nii")
    back = read_image(out)
    assert back.array.dtype == volume.array.dtype
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.geometry.is_close(volume.geometry, origin_tol=1e-4, direction_tol=1e-6)
    assert not back.warnings


def test_a_view_is_written_slice_by_slice(tmp_path):
    base = _volume(DIRECTIONS["identity"], nz=10)
    view = Volume(base.array[::2], Geometry((7, 6, 5), (0.7, 0.8, 5.0), base.origin), "CT")
    assert not view.array.flags.c_contiguous
    np.testing.assert_array_equal(read_image(write_image(view, tmp_path / "v.nii")).array,
                                  view.array)


def test_big_endian_arrays_are_written_little_endian(tmp_path):
    base = _volume(DIRECTIONS["oblique"])
    swapped = base.with_array(base.array.astype(">i2"))  # SimpleITK itself refuses these
    assert can_write(swapped) and not can_write(base.with_array(base.array > 0))
    back = read_image(write_image(swapped, tmp_path / "v.nii"))
    np.testing.assert_array_equal(back.array, base.array)
