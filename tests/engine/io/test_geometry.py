"""Geometry and voxel values equal SimpleITK's ImageSeriesReader; ordering never by name/number."""

from __future__ import annotations

import os
import random

import numpy as np
import pydicom
import pytest

from engine.io import load, write_series
from tests.engine.io.helpers import assert_matches_sitk, phantom, sitk_read_series


@pytest.mark.parametrize("oblique", [False, True])
def test_geometry_and_voxels_equal_simpleitk(tmp_path, oblique):
    vol = phantom(oblique=oblique)
    write_series(vol, tmp_path)
    loaded = load(tmp_path)
    assert_matches_sitk(loaded, sitk_read_series(tmp_path))
    assert loaded.geometry.is_close(vol.geometry)
    np.testing.assert_array_equal(loaded.array, vol.array)
    assert loaded.warnings == []


def test_shuffled_renamed_files_and_scrambled_instance_numbers(tmp_path):
    vol = phantom(nz=9, oblique=True, seed=3)
    numbers = list(range(1, 10))
    random.Random(1).shuffle(numbers)
    files = write_series(vol, tmp_path, edit=lambda ds, k: setattr(ds, "InstanceNumber", numbers[k]))
    rng = random.Random(2)
    for f in files:  # names that sort in a random order
        os.rename(f, tmp_path / f"{rng.randrange(10**9):09d}")
    loaded = load(tmp_path)
    np.testing.assert_array_equal(loaded.array, vol.array)
    assert_matches_sitk(loaded, sitk_read_series(tmp_path))
    # k order of the references follows the geometry
    z = [float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
         for f in loaded.metadata["source_files"]]
    assert z == sorted(z)


def test_metadata_keys_and_no_patient_identity(tmp_path):
    vol = phantom()
    files = write_series(vol, tmp_path, patient_name="CANARY^SECRET", patient_id="CANARY123",
                         series_description="Chest", window=(40, 400))
    loaded = load(tmp_path)
    md = loaded.metadata
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert md["series_uid"] == ds.SeriesInstanceUID and md["study_uid"] == ds.StudyInstanceUID
    assert md["frame_of_reference_uid"] == ds.FrameOfReferenceUID
    assert md["sop_class_uid"] == ds.SOPClassUID
    assert md["series_description"] == "Chest" and md["source_format"] == "dicom"
    assert md["source_files"] == [str(f) for f in files]
    assert md["sop_instance_uids"] == [pydicom.dcmread(f).SOPInstanceUID for f in files]
    assert md["window_presets"] == [(40.0, 400.0)]
    assert "CANARY" not in repr(md)


def test_written_headers_follow_dicom(tmp_path):
    vol = phantom(spacing=(0.6, 0.9, 3.0), oblique=True)
    files = write_series(vol, tmp_path, modality="MR")
    ds = pydicom.dcmread(files[1])
    assert ds.SOPClassUID == pydicom.uid.MRImageStorage and ds.Modality == "MR"
    assert [float(v) for v in ds.PixelSpacing] == [0.9, 0.6]  # row spacing (y) first
    m = vol.geometry.matrix
    np.testing.assert_allclose([float(v) for v in ds.ImageOrientationPatient], [*m[:, 0], *m[:, 1]],
                               atol=1e-9)
    expected = np.asarray(vol.origin) + m[:, 2] * 3.0
    np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], expected, atol=1e-6)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


def test_per_slice_rescale_gives_float32(tmp_path):
    vol = phantom(nz=4, lo=0, hi=1000)
    rescales = [(1.0, -1024.0), (0.5, -1000.0), (2.0, 0.0), (1.0, 0.0)]
    target = vol.array.astype(np.float64)
    stored = np.stack([np.rint((target[k] - i) / s) for k, (s, i) in enumerate(rescales)])
    expected = np.stack([stored[k] * s + i for k, (s, i) in enumerate(rescales)])
    write_series(vol.with_array(expected), tmp_path, rescale=rescales)
    loaded = load(tmp_path)
    assert loaded.array.dtype == np.float32
    np.testing.assert_allclose(loaded.array, expected, atol=1e-3)


def test_exact_integer_rescale_keeps_integer_dtype(tmp_path):
    vol = phantom(lo=-1000, hi=2000)
    write_series(vol, tmp_path, rescale=(1, -1024))
    loaded = load(tmp_path)
    assert loaded.array.dtype == np.int16
    np.testing.assert_array_equal(loaded.array, vol.array)
    assert_matches_sitk(loaded, sitk_read_series(tmp_path))


def test_monochrome1_is_inverted_with_a_warning(tmp_path):
    vol = phantom(lo=0, hi=4000).with_array(phantom(lo=0, hi=4000).array.astype(np.uint16))

    def mono1(ds, k):
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.BitsStored, ds.HighBit = 12, 11

    write_series(vol, tmp_path, modality="MR", edit=mono1)
    loaded = load(tmp_path)
    np.testing.assert_array_equal(loaded.array, 4095 - vol.array.astype(np.int64))
    assert any("MONOCHROME1" in w for w in loaded.warnings)


def test_bits_stored_masks_high_bits_and_sign_extends(tmp_path):
    values = np.random.default_rng(4).integers(-2048, 2048, size=(3, 8, 8)).astype(np.int16)
    vol = phantom(nz=3, ny=8, nx=8).with_array(values)
    garbage = (values.astype(np.uint16) & 0x0FFF) | 0x5000  # 12-bit two's complement + junk bits

    def twelve_bits(ds, k):
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = garbage[k].astype("<u2").tobytes()

    write_series(vol, tmp_path, modality="MR", edit=twelve_bits)
    loaded = load(tmp_path)
    np.testing.assert_array_equal(loaded.array, values)


def test_unsigned_16_bit_kept(tmp_path):
    values = np.random.default_rng(5).integers(0, 65535, size=(3, 8, 8)).astype(np.uint16)
    write_series(phantom(nz=3, ny=8, nx=8).with_array(values), tmp_path, modality="MR")
    loaded = load(tmp_path)
    assert loaded.array.dtype == np.uint16
    np.testing.assert_array_equal(loaded.array, values)


def test_missing_slice_grid_equals_simpleitk(tmp_path):
    files = write_series(phantom(nz=6, oblique=True), tmp_path)
    files[2].unlink()
    loaded = load(tmp_path)
    assert_matches_sitk(loaded, sitk_read_series(tmp_path))
    assert loaded.metadata["irregular_slices"] is True
