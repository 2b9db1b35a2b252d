"""Bad-input corpus, DICOM part: each case gives a correct volume, a stated warning, or one clear
error — never a crash, a hang, a huge allocation or a silently wrong volume."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pydicom
import pytest

from engine.errors import InputError, UnsupportedError
from engine.io import load, regularize, scan, write_series
from tests.engine.io.corpus import (
    nested_sequence,
    peak_allocation,
    series,
    set_attr,
    splice_before_pixels,
)
from tests.engine.io.helpers import phantom


def reasons(result) -> dict[str, str]:
    return {os.path.basename(s.path): s.reason for s in result.skipped}


def test_zero_byte_file_is_skipped(tmp_path):
    series(tmp_path)
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert reasons(scan(tmp_path))["empty.dcm"] == "empty file (0 bytes)"
    assert load(tmp_path).size[2] == 5


def test_non_dicom_file_in_folder_is_skipped(tmp_path):
    series(tmp_path)
    (tmp_path / "notes.txt").write_text("patient list\n" * 40)
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 300)
    (tmp_path / "mask.nii.gz").write_bytes(b"\x1f\x8b" + b"\0" * 300)
    r = reasons(scan(tmp_path))
    assert r["notes.txt"] == r["picture.png"] == "not a DICOM file"
    assert r["mask.nii.gz"] == "not a DICOM file (a NIfTI/NRRD/MetaImage volume: open the file itself)"


def test_file_truncated_in_its_header_is_skipped(tmp_path):
    files = series(tmp_path)
    files[2].write_bytes(files[2].read_bytes()[:700])
    result = scan(tmp_path)
    assert reasons(result)["IM0002.dcm"].startswith("damaged or truncated DICOM")
    assert result.series[0].n_files == 4


def test_file_truncated_in_its_pixels_is_skipped(tmp_path):
    files = series(tmp_path)
    files[0].write_bytes(files[0].read_bytes()[:-100])
    assert reasons(scan(tmp_path))["IM0000.dcm"].startswith("truncated pixel data")


def test_missing_middle_slice_is_stated_and_regularized(tmp_path):
    vol = phantom(nz=6, ny=12, nx=14)
    files = write_series(vol, tmp_path)
    files[3].unlink()
    loaded = load(tmp_path)
    assert any("1 slice missing between 35.00 and 40.00 mm" in w for w in loaded.warnings)
    regular = regularize(loaded)
    assert regular.size[2] == 6 and regular.spacing[2] == pytest.approx(2.5)
    np.testing.assert_array_equal(regular.array[4], vol.array[4])
    np.testing.assert_allclose(regular.array[3], (vol.array[2] + vol.array[4].astype(float)) / 2)


def test_non_uniform_spacing_is_stated(tmp_path):
    z = [0.0, 2.0, 4.0, 7.0, 9.5]
    series(tmp_path, edit=lambda ds, k: setattr(ds, "ImagePositionPatient", [0, 0, z[k]]))
    loaded = load(tmp_path)
    assert any("not uniform" in w for w in loaded.warnings)
    assert regularize(loaded).geometry.spacing[2] == pytest.approx(2.0)


def test_duplicated_positions_split_into_stacks(tmp_path):
    series(tmp_path / "a", series_uid="1.2.3.4", study_uid="1.2.3")
    series(tmp_path / "b", series_uid="1.2.3.4", study_uid="1.2.3",
           edit=set_attr(InstanceNumber=99))
    result = scan(tmp_path)
    assert [s.series_uid for s in result.series] == ["1.2.3.4", "1.2.3.4#2"]
    assert all(s.size == (14, 12, 5) for s in result.series)
    assert any("positions repeat" in w for w in result.series[0].warnings)


def test_multiphase_split_by_temporal_position(tmp_path):
    for phase in (1, 2):
        series(tmp_path / f"p{phase}", series_uid="1.2.3.5", study_uid="1.2.3",
               edit=set_attr(TemporalPositionIdentifier=phase))
    result = scan(tmp_path)
    assert len(result.series) == 2
    assert "split by phase key" in result.series[0].warnings[0]


def test_exact_duplicate_file_is_skipped(tmp_path):
    files = series(tmp_path)
    shutil.copy(files[1], tmp_path / "copy_of_1.dcm")
    result = scan(tmp_path)
    assert "same SOP Instance UID" in reasons(result)["copy_of_1.dcm"]
    assert result.series[0].n_files == 5


def test_mixed_orientations_in_one_series_become_two_stacks(tmp_path):
    def tilt_half(ds, k):
        if k >= 3:
            ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal
    series(tmp_path, nz=6, edit=tilt_half)
    stacks = scan(tmp_path).series
    assert [s.size[2] for s in stacks] == [3, 3]
    assert "slices differ in orientation" in stacks[0].warnings[0]


def test_mixed_matrix_sizes_in_one_series_become_two_stacks(tmp_path):
    series(tmp_path / "a", series_uid="1.2.9", study_uid="1.2")
    write_series(phantom(nz=3, ny=10, nx=10), tmp_path / "b", series_uid="1.2.9", study_uid="1.2")
    stacks = scan(tmp_path).series
    assert sorted(s.size for s in stacks) == [(10, 10, 3), (14, 12, 5)]
    assert any("matrix size" in w for w in stacks[0].warnings)


def test_gantry_tilt_is_stated_and_regularize_unshears(tmp_path):
    vol = phantom(nz=5, ny=12, nx=14)
    shift = 0.8  # mm of y shift per slice: one row, a tilt of atan(0.8 / 2.5) = 17.7°
    series_files = write_series(vol, tmp_path, edit=lambda ds, k: setattr(
        ds, "ImagePositionPatient", [10.0, -20.0 + shift * k, 30.0 + 2.5 * k]))
    assert len(series_files) == 5
    loaded = load(tmp_path)
    assert any("gantry tilt of 17.7°" in w for w in loaded.warnings)
    regular = regularize(loaded)
    assert regular.geometry.spacing[2] == pytest.approx(2.5)
    # the voxel of slice 2 at the physical point of pixel (j=4, i=5) lands there in the result
    point = np.array([10.0 + 5 * 0.7, -20.0 + shift * 2 + 4 * 0.8, 35.0])
    i, j, k = np.rint(regular.geometry.physical_to_index(point)).astype(int)
    assert regular.array[k, j, i] == pytest.approx(vol.array[2, 4, 5], abs=1e-3)


def test_huge_rows_columns_with_little_data_is_refused_without_allocating(tmp_path):
    series(tmp_path, nz=2)
    write_series(phantom(nz=1, ny=12, nx=14), tmp_path / "huge",
                 edit=set_attr(Rows=60000, Columns=60000))
    with peak_allocation() as mem:
        result = scan(tmp_path)
    assert "60000×60000×1 pixels declared" in reasons(result)["IM0000.dcm"]
    assert mem["peak"] < 50e6


def test_huge_frames_in_compressed_file_is_refused(tmp_path):
    from pydicom.uid import JPEG2000Lossless

    write_series(phantom(nz=1, ny=32, nx=32), tmp_path, transfer_syntax=JPEG2000Lossless,
                 edit=set_attr(NumberOfFrames=100000, Rows=4000, Columns=4000))
    with peak_allocation() as mem:
        result = scan(tmp_path)
    assert "declares 4000×4000×100000 pixels but holds only" in reasons(result)["IM0000.dcm"]
    assert mem["peak"] < 50e6


def test_deeply_nested_sequence_is_skipped(tmp_path):
    files = series(tmp_path, nz=3)
    splice_before_pixels(files[1], nested_sequence(5000))
    result = scan(tmp_path)
    assert reasons(result)["IM0001.dcm"] == "malformed DICOM: sequences nested too deeply"
    loaded = load(tmp_path)  # the two good slices, with the gap stated
    assert loaded.size[2] == 2 and any("gaps between slices" in w for w in loaded.warnings)


def test_executable_preamble_polyglot_loads_with_a_warning(tmp_path):
    files = series(tmp_path, nz=3)
    for f in files:
        data = bytearray(f.read_bytes())
        data[:4] = b"MZ\x90\x00"  # a Windows PE header in the 128-byte preamble
        f.write_bytes(bytes(data))
    loaded = load(tmp_path)
    assert any("executable" in w for w in loaded.warnings)
    assert loaded.size[2] == 3


def test_grossly_non_orthonormal_orientation_is_an_error(tmp_path):
    series(tmp_path, edit=set_attr(ImageOrientationPatient=[1, 0, 0, 0.5, 0.866, 0]))
    with pytest.raises(InputError, match="not orthonormal"):
        load(tmp_path)


def test_slightly_non_orthonormal_orientation_is_corrected_and_stated(tmp_path):
    series(tmp_path, edit=set_attr(ImageOrientationPatient=[1, 0, 0, 0.01, 1, 0]))
    loaded = load(tmp_path)
    assert any("corrected" in w for w in loaded.warnings)
    m = loaded.geometry.matrix
    np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-9)


def test_missing_positions_is_an_error(tmp_path):
    def drop(ds, k):
        del ds.ImagePositionPatient
    series(tmp_path, edit=drop)
    with pytest.raises(InputError, match="lack ImagePositionPatient"):
        load(tmp_path)


def test_nan_position_is_an_error_not_a_nan_volume(tmp_path):
    series(tmp_path, edit=lambda ds, k: setattr(ds, "ImagePositionPatient",
                                                ["nan", "0", str(k)] if k == 2 else [0, 0, k]))
    with pytest.raises(InputError, match="ImagePositionPatient"):
        load(tmp_path)


def test_missing_pixel_spacing_is_stated(tmp_path):
    def drop(ds, k):
        del ds.PixelSpacing
    series(tmp_path, edit=drop)
    loaded = load(tmp_path)
    assert loaded.spacing[:2] == (1.0, 1.0)
    assert any("no pixel spacing" in w for w in loaded.warnings)


def test_zero_rescale_slope_is_ignored_and_stated(tmp_path):
    series(tmp_path, edit=set_attr(RescaleSlope="0"))
    loaded = load(tmp_path)
    assert any("RescaleSlope of 0" in w for w in loaded.warnings)


def test_colour_image_is_a_clear_unsupported_error():
    from pydicom.data import get_testdata_file

    with pytest.raises(UnsupportedError, match="colour"):
        load(get_testdata_file("SC_rgb.dcm"))


def test_invalid_bits_allocated_is_skipped(tmp_path):
    series(tmp_path, nz=2, edit=set_attr(BitsAllocated=12))
    assert all("unsupported pixel layout" in r for r in reasons(scan(tmp_path)).values())


def test_non_image_dicom_is_skipped_with_its_kind(tmp_path):
    from pydicom.data import get_testdata_file

    series(tmp_path, nz=2)
    shutil.copy(get_testdata_file("rtplan.dcm"), tmp_path / "plan.dcm")
    assert reasons(scan(tmp_path))["plan.dcm"] == "no image data (RT Plan Storage)"


def test_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="no readable image series.*not a DICOM file"):
        load(tmp_path)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_multiframe_without_frame_positions_is_a_clear_error():
    from pydicom.data import get_testdata_file

    with pytest.raises(InputError, match="no frame positions"):
        load(get_testdata_file("emri_small.dcm"))


def test_symlink_loop_does_not_hang(tmp_path):
    series(tmp_path / "data", nz=3)
    os.symlink(tmp_path, tmp_path / "data" / "loop")
    assert scan(tmp_path).series[0].n_files == 3


def test_file_without_preamble_is_read(tmp_path):
    files = series(tmp_path, nz=3)
    ds = pydicom.dcmread(files[0])
    raw = files[0].read_bytes()
    files[0].write_bytes(raw[132 + len(_meta_bytes(ds)):])  # no preamble, no meta: ACR-NEMA style
    result = scan(tmp_path)
    assert result.series[0].n_files == 3 and not result.skipped
    np.testing.assert_array_equal(load(tmp_path).array, phantom(nz=3, ny=12, nx=14).array)


def _meta_bytes(ds) -> bytes:
    from io import BytesIO

    from pydicom.filewriter import write_file_meta_info

    buf = BytesIO()
    write_file_meta_info(buf, ds.file_meta, enforce_standard=False)
    return buf.getvalue()


def test_files_without_series_uid_are_grouped_and_stated(tmp_path):
    def strip(ds, k):
        del ds.SeriesInstanceUID
    series(tmp_path, nz=4, frame_of_reference_uid="1.2.77", edit=strip)
    (stack,) = scan(tmp_path).series
    assert stack.series_uid == "no-series-uid:1.2.77" and stack.n_files == 4
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.array, phantom(nz=4, ny=12, nx=14).array)
    assert any("without a SeriesInstanceUID" in w for w in volume.warnings)


def test_load_can_be_cancelled_mid_way(tmp_path):
    from engine.errors import Cancelled
    from engine.jobs import CancelToken

    series(tmp_path, nz=40)  # several chunks of slices
    token = CancelToken()

    def progress(fraction, stage=""):
        if "pixels" in stage:
            token.cancel()

    with pytest.raises(Cancelled):
        load(tmp_path, progress=progress, cancel=token)


def test_named_pipe_in_folder_does_not_hang(tmp_path):
    series(tmp_path, nz=2)
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would block forever
    assert scan(tmp_path).series[0].n_files == 2


def test_float_pixel_data_is_skipped_not_misread(tmp_path):
    def to_float(ds, k):
        del ds.PixelData
        ds.BitsAllocated = 32
        del ds.BitsStored, ds.HighBit, ds.PixelRepresentation
        ds.FloatPixelData = np.full((12, 14), 1.5, dtype="<f4").tobytes()
    series(tmp_path, nz=2, edit=to_float)
    assert all("floating-point pixel data" in r for r in reasons(scan(tmp_path)).values())


def test_consistent_but_enormous_series_is_refused_before_allocating(tmp_path):
    """11 sparse files of 40000×40000 int16 each: the data 'exists' (35 GB), memory does not."""
    import struct

    from tests.engine.io.corpus import PIXEL_TAG

    files = series(tmp_path, nz=11, edit=set_attr(Rows=40000, Columns=40000))
    length = 40000 * 40000 * 2
    for f in files:
        data = bytearray(f.read_bytes())
        i = data.index(PIXEL_TAG)
        struct.pack_into("<I", data, i + 8, length)
        f.write_bytes(bytes(data[:i + 12]))
        os.truncate(f, i + 12 + length)  # sparse: no disk blocks behind the pixel data
    with peak_allocation() as mem, pytest.raises(InputError, match="GiB"):
        load(tmp_path)
    assert mem["peak"] < 50e6


def test_palette_colour_is_not_shown_as_grey_indices():
    from pydicom.data import get_testdata_file

    with pytest.raises(UnsupportedError, match="PALETTE COLOR"):
        load(get_testdata_file("OT-PAL-8-face.dcm"))


def test_modality_lut_sequence_is_stated(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    def lut(ds, k):
        item = Dataset()
        item.LUTDescriptor = [4, 0, 16]
        item.ModalityLUTType = "US"
        item.LUTData = np.arange(4, dtype="<u2").tobytes()
        ds.ModalityLUTSequence = Sequence([item])
    series(tmp_path, nz=2, edit=lut)
    assert any("Modality LUT" in w for w in load(tmp_path).warnings)


def test_element_claiming_4_gb_is_skipped_without_allocating(tmp_path):
    import struct

    files = series(tmp_path, nz=2)
    padding = struct.pack("<HH2sHI", 0x0029, 0x1010, b"OB", 0, 20000) + b"\0" * 20000  # past 16 KB
    huge = struct.pack("<HH2sHI", 0x0029, 0x1020, b"OB", 0, 0xFFFFFFF0) + b"\0" * 100
    splice_before_pixels(files[0], padding + huge)
    with peak_allocation() as mem:
        result = scan(tmp_path)
    assert reasons(result)["IM0000.dcm"].startswith("damaged or truncated DICOM")
    assert mem["peak"] < 50e6


def test_jpeg2000_stream_larger_than_its_header_is_a_clear_error(tmp_path):
    import struct

    from pydicom.uid import JPEG2000Lossless

    (path,) = write_series(phantom(nz=1, ny=32, nx=32), tmp_path, transfer_syntax=JPEG2000Lossless)
    data = bytearray(path.read_bytes())
    siz = data.index(b"\xff\x4f\xff\x51") + 8  # SOC, SIZ marker, Lsiz, Rsiz → Xsiz, Ysiz
    struct.pack_into(">II", data, siz, 40000, 40000)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged and cannot be decoded"):
        load(tmp_path)
