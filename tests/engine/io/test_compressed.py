"""Compressed and unusual transfer syntaxes decode exactly like their uncompressed twins."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import get_decoder
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from engine.errors import InputError, UnsupportedError
from engine.io import load, write_series
from tests.engine.io.helpers import phantom

LOSSLESS = [ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
            RLELossless, JPEGLSLossless, JPEG2000Lossless]


@pytest.fixture(scope="module")
def twin_source():
    # 32×40 pixels: OpenJPEG needs at least 32 pixels per side for its default resolutions
    return phantom(nz=4, ny=32, nx=40, oblique=True, seed=7)


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda u: u.name)
def test_lossless_twin_decodes_identically(tmp_path, twin_source, syntax):
    write_series(twin_source, tmp_path / "plain")
    write_series(twin_source, tmp_path / "coded", transfer_syntax=syntax)
    assert pydicom.dcmread(next((tmp_path / "coded").iterdir())).file_meta.TransferSyntaxUID == syntax
    plain, coded = load(tmp_path / "plain"), load(tmp_path / "coded")
    assert coded.array.dtype == plain.array.dtype
    np.testing.assert_array_equal(coded.array, plain.array)
    assert coded.geometry.is_close(plain.geometry)


@pytest.mark.parametrize("coded,plain", [
    ("MR_small_RLE.dcm", "MR_small.dcm"),
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),
    ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
    ("MR_small_bigendian.dcm", "MR_small.dcm"),
])
def test_pydicom_data_twins(tmp_path, coded, plain):
    """Files compressed by other toolkits (GDCM, DCMTK…) than ours."""
    a, b = load(get_testdata_file(coded)), load(get_testdata_file(plain))
    np.testing.assert_array_equal(a.array, b.array)
    assert a.geometry.is_close(b.geometry)


@pytest.mark.parametrize("name", ["JPEG-LL.dcm", "JPGExtended.dcm",
                                  "JPGLosslessP14SV1_1s_1f_8b.dcm"])
def test_jpeg_lossless_and_extended_decode_like_pydicom(name):
    """No encoder exists for these syntaxes: compare with pydicom's own decoding of the file."""
    path = get_testdata_file(name)
    volume = load(path)
    np.testing.assert_array_equal(volume.array[0], pydicom.dcmread(path).pixel_array)


def test_undecodable_jpeg_is_a_clear_error():
    """pydicom's sample of a JPEG stream that no decoder accepts (misplaced marker segment)."""
    with pytest.raises(InputError, match="damaged and cannot be decoded"):
        load(get_testdata_file("JPEG-lossy.dcm"))


def test_missing_decoder_is_a_clear_error_naming_the_package(tmp_path, twin_source):
    write_series(twin_source, tmp_path, transfer_syntax=JPEG2000Lossless)
    decoder = get_decoder(JPEG2000Lossless)
    saved = dict(decoder._available), dict(decoder._unavailable)
    try:
        for label in list(decoder.available_plugins):
            decoder.remove_plugin(label)
        with pytest.raises(UnsupportedError, match="pylibjpeg-openjpeg"):
            load(tmp_path)
    finally:
        decoder._available.update(saved[0])
        decoder._unavailable.clear()
        decoder._unavailable.update(saved[1])
    assert load(tmp_path).size == twin_source.size


@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, RLELossless],
                         ids=lambda u: u.name)  # highdicom encodes JPEG-LS/2000 unsigned only
def test_enhanced_multiframe_ct_loads_as_a_volume(tmp_path, syntax):
    import highdicom

    vol = phantom(nz=5, ny=32, nx=32, oblique=True, seed=9)
    files = write_series(vol, tmp_path / "legacy")
    datasets = [pydicom.dcmread(f) for f in files]
    enhanced = highdicom.legacy.LegacyConvertedEnhancedCTImage(
        datasets, series_instance_uid=pydicom.uid.generate_uid(), series_number=9,
        sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1,
        transfer_syntax_uid=syntax)
    (tmp_path / "mf").mkdir()
    enhanced.save_as(tmp_path / "mf" / "enhanced.dcm")
    loaded = load(tmp_path / "mf")
    np.testing.assert_array_equal(loaded.array, vol.array)
    assert loaded.geometry.is_close(vol.geometry)
    shutil.rmtree(tmp_path / "legacy")
