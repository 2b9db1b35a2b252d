"""``candor convert`` agrees with dcm2niix (the peer everyone converts with) in world space.

Each series is written by the test (oblique, gantry-tilted, Legacy Converted Enhanced CT
multi-frame), converted by ``candor convert`` and by the real ``dcm2niix -z n``, and both NIfTI
files are read with nibabel (the oracle for NIfTI geometry): every voxel centre of Candor's file
is mapped through both affines into dcm2niix's grid, must land on a voxel centre there, and the
two voxels must hold the same value (dcm2niix's ``scl_slope``/``scl_inter`` applied).

Gantry tilt: dcm2niix writes the stored slices with a sheared affine (exact) and a resampled
``_Tilt_1`` file. ITK grids cannot shear, so Candor's plain output keeps the slices on the
unsheared grid and says so; ``--regular`` resamples. The test checks both against dcm2niix's
exact sheared file. (dcm2niix v1.0.20220720's own ``_Tilt_1`` file puts most voxels at other
world positions on these series — see docs/PERFORMANCE.md — so it is not used as the oracle.)

Without dcm2niix the tests skip, unless ``CANDOR_REQUIRE_PEERS=1`` (set by ``.ci/run``): then a
missing peer fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from engine.cli import main as candor
from engine.io import write_series
from tests.engine.io.helpers import phantom


@pytest.fixture(scope="module")
def dcm2niix() -> str:
    exe = shutil.which("dcm2niix")
    if exe is None:
        if os.environ.get("CANDOR_REQUIRE_PEERS") == "1":
            pytest.fail("dcm2niix is required (CANDOR_REQUIRE_PEERS=1) but not installed "
                        "(apt-get install dcm2niix)")
        pytest.skip("dcm2niix is not installed (apt-get install dcm2niix)")
    return exe


def peer_convert(exe: str, folder: Path, out: Path) -> dict[str, Path]:
    out.mkdir()
    run = subprocess.run([exe, "-z", "n", "-b", "n", "-f", "series", "-o", str(out), str(folder)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return {p.name: p for p in out.glob("*.nii")}


def candor_convert(folder: Path, out: Path, *options: str) -> nib.Nifti1Image:
    assert candor(["convert", str(folder), "--out", str(out), *options]) == 0
    return nib.load(out)


def world_pairs(ours: nib.Nifti1Image, theirs: nib.Nifti1Image) -> tuple[np.ndarray, np.ndarray]:
    """Values of both files at every voxel centre of ``ours`` that lies inside ``theirs``."""
    a, b = ours.get_fdata(), theirs.get_fdata()  # scl_slope / scl_inter applied
    ijk = np.indices(a.shape).reshape(3, -1).T
    world = nib.affines.apply_affine(ours.affine, ijk)
    there = nib.affines.apply_affine(np.linalg.inv(theirs.affine), world)
    nearest = np.rint(there)
    assert np.abs(there - nearest).max() < 1e-3, "the voxel grids are not aligned in world space"
    nearest = nearest.astype(int)
    inside = np.all((nearest >= 0) & (nearest < np.array(b.shape)), axis=1)
    return a[tuple(ijk[inside].T)], b[tuple(nearest[inside].T)]


def assert_same_world_image(ours: nib.Nifti1Image, theirs: nib.Nifti1Image) -> None:
    """Same voxels at the same world positions, and the same grid once both are in RAS order."""
    a, b = nib.as_closest_canonical(ours), nib.as_closest_canonical(theirs)
    assert a.shape == b.shape
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-3)
    np.testing.assert_array_equal(a.get_fdata(), b.get_fdata())
    va, vb = world_pairs(ours, theirs)
    assert va.size == np.prod(ours.shape)
    np.testing.assert_array_equal(va, vb)


@pytest.mark.parametrize("rescale", [None, (1.0, -1024.0)], ids=["stored", "rescaled"])
def test_oblique_series(tmp_path, dcm2niix, rescale):
    vol = phantom(nz=6, ny=20, nx=24, oblique=True, seed=2)
    write_series(vol, tmp_path / "dicom", rescale=rescale)
    peer = peer_convert(dcm2niix, tmp_path / "dicom", tmp_path / "peer")
    ours = candor_convert(tmp_path / "dicom", tmp_path / "candor.nii")
    assert list(peer) == ["series.nii"]
    assert_same_world_image(ours, nib.load(peer["series.nii"]))


def test_enhanced_multiframe_series(tmp_path, dcm2niix):
    import highdicom

    files = write_series(phantom(nz=5, ny=32, nx=32, oblique=True, seed=9), tmp_path / "legacy")
    enhanced = highdicom.legacy.LegacyConvertedEnhancedCTImage(
        [pydicom.dcmread(f) for f in files], series_instance_uid=pydicom.uid.generate_uid(),
        series_number=9, sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1,
        transfer_syntax_uid=pydicom.uid.ExplicitVRLittleEndian)
    (tmp_path / "mf").mkdir()
    enhanced.save_as(tmp_path / "mf" / "enhanced.dcm")
    peer = peer_convert(dcm2niix, tmp_path / "mf", tmp_path / "peer")
    ours = candor_convert(tmp_path / "mf", tmp_path / "candor.nii")
    assert_same_world_image(ours, nib.load(peer["series.nii"]))


SHIFT = 0.8  # mm of y shift per 2.5 mm slice: one row, a tilt of 17.7°


@pytest.fixture
def tilted(tmp_path, dcm2niix):
    vol = phantom(nz=6, ny=20, nx=24, seed=3)
    write_series(vol, tmp_path / "dicom", extra={"GantryDetectorTilt": -17.74},
                 edit=lambda ds, k: setattr(ds, "ImagePositionPatient",
                                            [10.0, -20.0 + SHIFT * k, 30.0 + 2.5 * k]))
    peer = peer_convert(dcm2niix, tmp_path / "dicom", tmp_path / "peer")
    assert set(peer) == {"series.nii", "series_Tilt_1.nii"}  # dcm2niix saw the tilt
    return tmp_path / "dicom", nib.load(peer["series.nii"])


def test_tilted_series_resampled_matches_the_peer_sheared_file(tmp_path, tilted):
    folder, exact = tilted
    regular = candor_convert(folder, tmp_path / "regular.nii", "--regular")
    va, vb = world_pairs(regular, exact)
    # every voxel of the regular grid that a stored slice covers: 6 slices × 24 × (20 − shift)
    assert va.size == 24 * sum(20 - k for k in range(6))
    np.testing.assert_allclose(va, vb, atol=1e-3)


def test_tilted_series_plain_keeps_the_stored_slices_on_an_unsheared_grid(tmp_path, tilted):
    folder, exact = tilted
    plain = candor_convert(folder, tmp_path / "plain.nii")
    a, b = nib.as_closest_canonical(plain), nib.as_closest_canonical(exact)
    np.testing.assert_array_equal(a.get_fdata(), b.get_fdata())  # the same stored voxels
    # the same grid but for the shear, the in-plane step between slices that Candor states
    np.testing.assert_allclose(a.affine[:, [0, 1, 3]], b.affine[:, [0, 1, 3]], atol=1e-3)
    np.testing.assert_allclose(b.affine[:3, 2] - a.affine[:3, 2], [0.0, -SHIFT, 0.0], atol=1e-3)
