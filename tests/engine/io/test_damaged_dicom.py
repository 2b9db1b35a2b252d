"""Damaged DICOM from a folder a hospital will one day hand us: each file the test writes itself.

One damaged file is skipped with a reason while the rest load; decoder failures (Rust panics
included) become Candor errors naming the slice by position; declared sizes are checked before
anything is allocated; slices sharing a SOP Instance UID and polyglot preambles are stated.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames

from engine.errors import CandorError, InputError
from engine.io.codestream import ENDS_EARLY
from engine.io import load, scan
from engine.io.guard import boundary, guarded_call
from tests.engine.io.corpus import PIXEL_TAG, peak_allocation, series, set_attr

CANARY = "CANARY^SECRET"


def reasons(result) -> dict[str, str]:
    return {os.path.basename(s.path): s.reason for s in result.skipped}


def vr_offset(path: Path, tag: tuple[int, int]) -> int:
    """Byte offset of the VR field of the (explicit VR little endian) element ``tag``."""
    data = path.read_bytes()
    i = data.index(struct.pack("<HH", *tag), 132)
    return i + 4


def flip_vr_byte(path: Path, tag: tuple[int, int]) -> None:
    data = bytearray(path.read_bytes())
    data[vr_offset(path, tag) + 1] ^= 0x80  # one flipped bit: "US" becomes "U\xd3"
    path.write_bytes(bytes(data))


def cli_json(*argv: str) -> tuple[int, dict]:
    from engine.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, json.loads(out.getvalue())


def copy_testdata(name: str, folder: Path, edit=None) -> Path:
    src = get_testdata_file(name)
    if src is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    ds = pydicom.dcmread(src)
    if edit is not None:
        edit(ds)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "image.dcm"
    ds.save_as(out)
    return out


def lie_rows_columns(rows: int, columns: int):
    def edit(ds):
        ds.Rows, ds.Columns = rows, columns
    return edit


def truncate_frames(ds) -> None:
    n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = list(generate_frames(ds.PixelData, number_of_frames=n))
    ds.PixelData = encapsulate([f[:len(f) // 2 // 2 * 2] for f in frames])


# 1. one damaged file must not abort the folder ---------------------------------------------------

@pytest.mark.parametrize("tag", [(0x0028, 0x0010), (0x0020, 0x0032), (0x0008, 0x0060)])
def test_flipped_vr_byte_skips_that_file_and_loads_the_rest(tmp_path, tag):
    files = series(tmp_path, nz=4, patient_name=CANARY)
    flip_vr_byte(files[2], tag)
    result = scan(tmp_path)
    assert reasons(result)["IM0002.dcm"].startswith("damaged or truncated DICOM (an element has "
                                                    "an invalid or unknown value representation")
    assert result.series[0].n_files == 3
    assert load(tmp_path).size[2] == 3
    code, doc = cli_json("scan", str(tmp_path), "--json")
    assert code == 0 and doc["series"][0]["n_files"] == 3
    assert [os.path.basename(s["path"]) for s in doc["skipped"]] == ["IM0002.dcm"]
    assert CANARY not in json.dumps(doc)


def test_flipped_vr_byte_in_a_single_file_is_a_clear_error_for_info(tmp_path, capsys):
    from engine.cli import main

    (path,) = series(tmp_path, nz=1)
    flip_vr_byte(path, (0x0028, 0x0011))
    code = main(["info", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err
    assert "invalid or unknown value representation" in err


# 2. one boundary around third-party parsing and decoding -----------------------------------------

def test_boundary_converts_base_exceptions_but_not_interrupts():
    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    def panic():
        raise PanicException("index out of bounds: the len is 4096 but the index is 4097")

    with pytest.raises(InputError, match=r"^slice 2 of 9 is damaged and cannot be decoded "
                                         r"\(the decoder failed on inconsistent data\)$"):
        guarded_call("slice 2 of 9", panic, action="decoded")
    with pytest.raises(KeyboardInterrupt), boundary("slice 1 of 1"):
        raise KeyboardInterrupt
    with pytest.raises(SystemExit), boundary("slice 1 of 1"):
        raise SystemExit(3)
    with pytest.raises(CandorError, match="^kept$"), boundary("slice 1 of 1"):
        raise InputError("kept")


@pytest.mark.parametrize("rows, columns, what",
                         [(64, 32, "more"), (8, 8, "more"), (65, 64, "fewer")])
def test_rle_with_lying_rows_columns_is_a_candor_error_not_a_panic(tmp_path, capfd, rows, columns,
                                                                   what):
    """64×32 made pylibjpeg-rle panic (a BaseException, and Rust's message on stderr); 8×8 gave
    the first 64 pixels of the real 64×64 image as if nothing were wrong."""
    copy_testdata("MR_small_RLE.dcm", tmp_path, lie_rows_columns(rows, columns))
    with pytest.raises(InputError) as err:
        load(tmp_path)
    assert str(err.value) == (f"the RLE Lossless pixel data of slice 1 of 1 is damaged and cannot "
                              f"be decoded (an RLE segment holds {what} than the {rows * columns} "
                              "pixels of Rows × Columns)")
    assert "panicked" not in capfd.readouterr().err


def test_rle_decoder_panic_itself_is_caught(tmp_path, monkeypatch):
    """Even when the pre-check is bypassed, the panic is converted at the boundary."""
    from engine.io import codestream

    monkeypatch.setattr(codestream, "check_frame", lambda *a, **k: [])  # pixels looks it up here
    copy_testdata("MR_small_RLE.dcm", tmp_path, lie_rows_columns(64, 32))
    with pytest.raises(InputError, match=r"slice 1 of 1 is damaged and cannot be decoded "
                                         r"\(the decoder failed on inconsistent data\)"):
        load(tmp_path)


def test_rle_with_truncated_segments_is_a_candor_error(tmp_path):
    copy_testdata("MR_small_RLE.dcm", tmp_path, truncate_frames)
    with pytest.raises(InputError, match="RLE Lossless pixel data of slice 1 of 1 is damaged"):
        load(tmp_path)


@pytest.mark.parametrize("name", ["JPEG-lossy.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm",
                                  "JPEG2000.dcm"])
@pytest.mark.parametrize("damage", ["taller", "narrower", "truncated"])
def test_jpeg_family_damage_is_a_candor_error_or_a_correct_shape(tmp_path, name, damage):
    src = get_testdata_file(name)
    if src is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    header = pydicom.dcmread(src, stop_before_pixels=True)
    rows, cols = int(header.Rows), int(header.Columns)
    edit = {"taller": lie_rows_columns(rows * 2, cols),
            "narrower": lie_rows_columns(rows, cols // 2), "truncated": truncate_frames}[damage]
    copy_testdata(name, tmp_path, edit)
    if damage != "truncated":  # caught before the decoder allocates what its stream declares
        expected = r"of slice 1 of 1 is damaged and cannot be decoded \(its codestream declares "
        with pytest.raises(InputError, match=rf"{expected}{cols}×{rows} "):
            load(tmp_path)
        return
    try:
        volume = load(tmp_path)
    except CandorError as exc:
        assert "slice 1 of 1 is damaged" in str(exc) and "image.dcm" not in str(exc)
        return
    assert volume.size[:2] == (cols, rows) and ENDS_EARLY in volume.warnings  # decoder filled in


def test_jpeg2000_offset_beyond_the_image_is_refused(tmp_path):
    def offset(ds):
        frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
        siz = frame.index(b"\xff\x4f\xff\x51") + 8
        xsiz = struct.unpack_from(">I", frame, siz)[0]
        struct.pack_into(">I", frame, siz + 8, xsiz + 5)  # XOsiz past Xsiz
        ds.PixelData = encapsulate([bytes(frame)])
    copy_testdata("MR_small_jp2klossless.dcm", tmp_path, offset)
    with pytest.raises(InputError, match="its codestream declares"):
        load(tmp_path)


def test_decoder_failure_in_a_series_names_the_slice_by_position(tmp_path):
    from pydicom.uid import RLELossless

    from tests.engine.io.helpers import phantom
    from engine.io import write_series

    files = write_series(phantom(nz=3, ny=12, nx=14), tmp_path, transfer_syntax=RLELossless,
                         patient_name=CANARY)
    ds = pydicom.dcmread(files[1])
    truncate_frames(ds)
    ds.save_as(files[1])
    with pytest.raises(InputError) as err:
        load(tmp_path)
    assert "slice 2 of 3" in str(err.value)
    assert CANARY not in str(err.value) and "IM0001" not in str(err.value)


# 3. memory: what a file declares against what it holds --------------------------------------------

def sparse_slice(folder: Path, rows: int, columns: int) -> Path:
    """A consistent file whose pixel data is a hole: a few KB on disk, gigabytes by its size."""
    (path,) = series(folder, nz=1, edit=set_attr(Rows=rows, Columns=columns))
    data = bytearray(path.read_bytes())
    i = data.index(PIXEL_TAG)
    length = rows * columns * 2
    struct.pack_into("<I", data, i + 8, length)
    path.write_bytes(bytes(data[:i + 12]))
    os.truncate(path, i + 12 + length)
    return path


def test_sparse_46000_square_slice_is_refused_without_allocating(tmp_path, capsys):
    from engine.cli import main

    path = sparse_slice(tmp_path, 46000, 46000)
    assert os.stat(path).st_blocks * 512 < 64 * 1024  # really a few KB on disk
    with peak_allocation() as mem:
        code = main(["info", str(path)])
    assert mem["peak"] < 100e6
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err
    assert "46000×46000 pixels per slice (3.9 GiB)" in err
    assert "at most 268 million pixels per slice" in err


def test_volume_limit_is_configurable_and_checked_before_allocating(tmp_path, monkeypatch):
    series(tmp_path, nz=5)  # 5 × 12 × 14 int16 = 1680 bytes
    monkeypatch.setenv("CANDOR_MAX_VOLUME_BYTES", "1K")
    with peak_allocation() as mem, pytest.raises(InputError) as err:
        load(tmp_path)
    assert str(err.value) == ("the volume would need 0.0 MiB; larger than Candor loads (0.0 MiB; "
                              "set CANDOR_MAX_VOLUME_BYTES to change the limit)")
    assert mem["peak"] < 10e6
    monkeypatch.setenv("CANDOR_MAX_VOLUME_BYTES", "1M")
    assert load(tmp_path).size == (14, 12, 5)


def test_native_pixel_data_longer_than_the_element_is_refused(tmp_path):
    files = series(tmp_path, nz=2)
    data = bytearray(files[0].read_bytes())
    i = data.index(PIXEL_TAG)
    struct.pack_into("<I", data, i + 8, 100)  # the element holds 100 bytes, 12×14×2 declared
    files[0].write_bytes(bytes(data[:i + 12 + 100]))
    assert "truncated pixel data: 12×14×1 pixels declared, 100 bytes present" in \
        reasons(scan(tmp_path))["IM0000.dcm"]


def test_deflate_bomb_is_refused_without_inflating_it_whole(tmp_path, monkeypatch):
    import zlib

    from pydicom.uid import DeflatedExplicitVRLittleEndian

    (path,) = series(tmp_path, nz=1, transfer_syntax=DeflatedExplicitVRLittleEndian)
    raw = path.read_bytes()
    ds = pydicom.dcmread(path)
    start = len(raw) - len(_deflated_body(raw, ds))
    inflated = zlib.decompress(raw[start:], -zlib.MAX_WBITS)
    bomb = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    tail = struct.pack("<HH2sHI", 0x0029, 0x1010, b"OB", 0, 8 << 20) + bytes(8 << 20)
    body = bomb.compress(inflated[:inflated.index(PIXEL_TAG)] + tail) + bomb.flush()
    path.write_bytes(raw[:start] + body)
    monkeypatch.setenv("CANDOR_MAX_VOLUME_BYTES", "4M")
    with peak_allocation() as mem:
        result = scan(tmp_path)
    assert "deflated data inflates to more than 4 MiB" in reasons(result)["IM0000.dcm"]
    assert mem["peak"] < 40e6


def _deflated_body(raw: bytes, ds) -> bytes:
    from pydicom.filewriter import write_file_meta_info

    buf = io.BytesIO()
    write_file_meta_info(buf, ds.file_meta, enforce_standard=False)
    return raw[132 + len(buf.getvalue()):]


# 4. corrupt data that loaded silently -------------------------------------------------------------

def test_slices_sharing_one_sop_uid_at_different_positions_are_kept_and_stated(tmp_path):
    series(tmp_path, nz=5, patient_name=CANARY,
           edit=set_attr(SOPInstanceUID="1.2.826.0.1.3680043.8.498.1"))
    result = scan(tmp_path)
    assert not result.skipped and result.series[0].n_files == 5
    note = "5 slices share one SOP Instance UID at different positions; all were kept"
    assert any(note in w for w in result.series[0].warnings)
    volume = load(tmp_path)
    assert volume.size[2] == 5 and any(note in w for w in volume.warnings)
    code, doc = cli_json("scan", str(tmp_path), "--json")
    assert any(note in w for w in doc["series"][0]["warnings"])
    assert CANARY not in json.dumps(doc) + repr(volume.warnings)


def test_true_duplicate_is_dropped_with_a_warning_on_the_volume(tmp_path):
    files = series(tmp_path, nz=4)
    shutil.copy(files[1], tmp_path / "copy.dcm")
    result = scan(tmp_path)
    assert reasons(result)["copy.dcm"] == ("duplicate of another file here (same SOP Instance UID "
                                           "and position)")
    assert any("second copy of a slice" in w for w in load(tmp_path).warnings)


@pytest.mark.parametrize("magic, what", [
    (b"PK\x03\x04\x14\x00\x00\x00", "a ZIP archive"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "a PDF document"),
    (b"\x1f\x8b\x08\x00", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (b"<!DOCTYPE html><html>", "an HTML document"),
    (b"\x7fELF\x02\x01\x01", "a Linux executable"),
])
def test_polyglot_preamble_is_stated_on_the_volume_and_in_scan_output(tmp_path, magic, what):
    files = series(tmp_path, nz=3)
    for f in files:
        data = bytearray(f.read_bytes())
        data[8:8 + len(magic)] = magic if magic.startswith(b"%PDF") else b"\0" * len(magic)
        if not magic.startswith(b"%PDF"):
            data[:len(magic)] = magic
        f.write_bytes(bytes(data))
    volume = load(tmp_path)
    assert volume.size[2] == 3
    np.testing.assert_array_equal(volume.array, load(tmp_path).array)
    assert any(what in w and "polyglot" in w and "CVE-2019-11687" in w for w in volume.warnings)
    _, doc = cli_json("scan", str(tmp_path), "--json")
    assert any(what in w for w in doc["series"][0]["warnings"])


def test_zero_or_tiff_preamble_gives_no_warning(tmp_path):
    files = series(tmp_path, nz=2)
    data = bytearray(files[0].read_bytes())
    data[:4] = b"II*\x00"  # DICOM/TIFF dual-personality files are allowed by Part 10
    files[0].write_bytes(bytes(data))
    assert not any("preamble" in w for w in load(tmp_path).warnings)
