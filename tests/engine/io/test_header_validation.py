"""Header fields that SimpleITK/ITK would trust are validated before it opens the file.

Regression tests for the fuzz findings (tests/fuzz/corpus/volume_*): a MetaImage ``NDims`` of
1e308 (a segfault), ``NDims = 46000 46000 46000`` with ``DimSize = True`` (an abort), a NUL byte
in a data file name, a NaN NIfTI ``vox_offset``, a corrupt ``.nii.gz`` header stream. Each must
end in a clear :class:`InputError` that names the problem, never the file or the header's text.
The two crashes run in a child process: a regression must fail this test, not kill the run.
"""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import CandorError, InputError, UnsupportedError
from engine.io import load, write_image
from engine.io.detached import data_files
from engine.io.guard import DamagedData
from engine.io.header_checks import check_header
from engine.io.image_checks_nifti import read_nifti_header
from tests.engine.io.helpers import phantom

REPO = Path(__file__).resolve().parents[3]
SECRET = "Doe^Jane"  # in the file name and the header: must never reach a message
DATA = (np.arange(4 * 8 * 6) % 200).astype(np.int16).reshape(4, 8, 6)


def _meta(**fields) -> str:
    """A MetaImage header of 6×8×4 int16 voxels; ``None`` drops a field, a value replaces it."""
    base = {"ObjectType": "Image", "NDims": "3", "BinaryData": "True",
            "BinaryDataByteOrderMSB": "False", "CompressedData": "False",
            "TransformMatrix": "1 0 0 0 1 0 0 0 1", "Offset": "10 -20 30",
            "CenterOfRotation": "0 0 0", "AnatomicalOrientation": "RAI",
            "ElementSpacing": "0.7 0.8 2.5", "DimSize": "6 8 4", "ElementType": "MET_SHORT"}
    base.update(fields)
    return "".join(f"{k} = {v}\n" for k, v in base.items() if v is not None)


def _mha(folder: Path, name: str = f"{SECRET}.mha", data: bytes | None = None, **fields) -> Path:
    path = folder / name
    path.write_bytes((_meta(**fields) + "ElementDataFile = LOCAL\n").encode("latin-1")
                     + (DATA.tobytes() if data is None else data))
    return path


def _mhd(folder: Path, raw: bytes | None = None, **fields) -> Path:
    (folder / f"{SECRET}.raw").write_bytes(DATA.tobytes() if raw is None else raw)
    path = folder / f"{SECRET}.mhd"
    path.write_text(_meta(**fields) + f"ElementDataFile = {SECRET}.raw\n")
    return path


def _nrrd(folder: Path, data: bytes | None = None, **fields) -> Path:
    base = {"type": "int16", "dimension": "3", "space": "left-posterior-superior",
            "sizes": "6 8 4", "space directions": "(0.7,0,0) (0,0.8,0) (0,0,2.5)",
            "kinds": "domain domain domain", "endian": "little", "encoding": "raw",
            "space origin": "(10,-20,30)"}
    base.update(fields)
    text = "NRRD0004\n" + "".join(f"{k}: {v}\n" for k, v in base.items() if v is not None) + "\n"
    path = folder / f"{SECRET}.nrrd"
    path.write_bytes(text.encode() + (DATA.tobytes() if data is None else data))
    return path


def _refused(path: Path, match: str, error=InputError) -> str:
    with pytest.raises(error, match=match) as info:
        load(path)
    message = str(info.value)
    assert SECRET not in message and "Doe" not in message
    return message


def _cli_info_in_child(path: Path) -> subprocess.CompletedProcess:
    code = "import sys; from engine.cli import main; sys.exit(main(['info', sys.argv[1]]))"
    return subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


# The fuzz findings --------------------------------------------------------------------------
def test_mha_ndims_1e308_without_object_type_is_refused_not_a_segfault(tmp_path):
    """volume_mha-s1-c186: MetaIO converted NDims 1e308 to an int and SimpleITK segfaulted."""
    path = _mha(tmp_path, ObjectType=None, NDims="1e308")
    assert len(path.read_bytes()) < 700
    done = _cli_info_in_child(path)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert done.stderr.startswith("error: ") and "NDims" in done.stderr
    assert SECRET not in done.stderr and "Traceback" not in done.stderr
    _refused(path, "NDims is not a whole number")


def test_mhd_ndims_list_and_dimsize_true_is_refused_not_an_abort(tmp_path):
    """volume_mhd-s20261202-c854: NDims = 46000 46000 46000, DimSize = True: ITK aborted."""
    path = _mhd(tmp_path, NDims="46000 46000 46000", DimSize="True")
    done = _cli_info_in_child(path)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert done.stderr.startswith("error: ") and SECRET not in done.stderr
    _refused(path, "NDims")
    _refused(_mhd(tmp_path, NDims="46000"), "number of dimensions")
    _refused(_mhd(tmp_path, DimSize="True"), "DimSize gives 1 values for 3 axes")


def test_data_file_name_with_a_nul_byte_is_refused(tmp_path):
    """volume_mha-s1-c1786: os.path.realpath raised ValueError on the NUL in the name."""
    path = tmp_path / "v.mha"
    path.write_bytes(_meta(ElementType="MET_DOUBLE").encode() + b"ElementDataFile = LOCAL\x7f\xce"
                     b"\x00\x01\xff\n" + DATA.tobytes())
    _refused(path, "control characters")
    listed = tmp_path / "l.mhd"
    listed.write_bytes(_meta().encode() + b"ElementDataFile = LIST\na\x00.raw\n")
    with pytest.raises(InputError, match="control characters"):
        data_files(listed)


def test_nifti_nan_vox_offset_is_refused(tmp_path):
    """volume_nii-s20261202-c713: int(NaN) raised ValueError while parsing the header."""
    path = write_image(phantom(nz=4, ny=8, nx=6), tmp_path / f"{SECRET}.nii")
    good = path.read_bytes()
    for value, match in ((float("nan"), "vox_offset"), (float("inf"), "vox_offset"),
                         (-352.0, "vox_offset"), (1e30, "vox_offset"), (0.0, "inside the header"),
                         (348.0, "inside the header")):
        raw = bytearray(good)
        struct.pack_into("<f", raw, 108, value)
        path.write_bytes(bytes(raw))
        _refused(path, match)
        with pytest.raises(InputError, match=match):
            read_nifti_header(path)


def test_nifti_gz_with_a_corrupt_stream_in_its_header_is_damaged_data(tmp_path):
    """volume_nii_gz-s1-c266: zlib.error escaped gzip.read in read_nifti_header."""
    path = write_image(phantom(nz=4, ny=8, nx=6), tmp_path / f"{SECRET}.nii.gz")
    raw = bytearray(path.read_bytes())
    for i in range(12, 40):  # inside the first deflate block: the header's bytes
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedData, match="deflated data is corrupt|damaged"):
        read_nifti_header(path)
    _refused(path, "damaged")


# NIfTI fields -------------------------------------------------------------------------------
@pytest.mark.parametrize("field, fmt, offset, value, match", [
    ("dim0", "<h", 40, 0, r"dim\[0\]"),
    ("dim0", "<h", 40, 8, r"dim\[0\]"),
    ("dim1", "<h", 42, 0, "image size"),
    ("dim2", "<h", 44, -3, "image size"),
    ("datatype", "<h", 70, 999, "unknown voxel type"),
    ("datatype", "<h", 70, 0, "unknown voxel type"),
    ("bitpix", "<h", 72, 0, "bitpix"),
    ("bitpix", "<h", 72, 17, "bitpix"),
])
def test_nifti_header_lies_are_refused(tmp_path, field, fmt, offset, value, match):
    path = write_image(phantom(nz=4, ny=8, nx=6), tmp_path / f"{SECRET}.nii")
    raw = bytearray(path.read_bytes())
    struct.pack_into(fmt, raw, offset, value)
    path.write_bytes(bytes(raw))
    _refused(path, match)
    gz = tmp_path / f"{SECRET}.nii.gz"
    gz.write_bytes(gzip.compress(bytes(raw)))
    _refused(gz, match)


def test_nifti_binary_datatype_is_unsupported(tmp_path):
    path = write_image(phantom(nz=4, ny=8, nx=6), tmp_path / "b.nii")
    raw = bytearray(path.read_bytes())
    struct.pack_into("<hh", raw, 70, 1, 1)
    path.write_bytes(bytes(raw))
    with pytest.raises(UnsupportedError, match="1-bit"):
        load(path)


def test_nifti_declaring_more_than_the_gzip_can_hold_is_refused_before_itk(tmp_path):
    path = write_image(phantom(nz=4, ny=8, nx=6), tmp_path / "g.nii")
    raw = bytearray(path.read_bytes())
    struct.pack_into("<4h", raw, 40, 3, 32767, 32767, 32767)
    gz = tmp_path / "g.nii.gz"
    gz.write_bytes(gzip.compress(bytes(raw)))
    _refused(gz, "cannot hold them")


def test_nifti_over_the_memory_limit_is_refused(tmp_path, monkeypatch):
    path = write_image(phantom(nz=4, ny=8, nx=6), tmp_path / "m.nii")
    monkeypatch.setenv("CANDOR_MAX_VOLUME_BYTES", "100")
    _refused(path, "larger than Candor loads")


# MetaImage fields ---------------------------------------------------------------------------
@pytest.mark.parametrize("fields, match", [
    ({"NDims": None}, "no NDims"),
    ({"NDims": "nan"}, "NDims is not a whole number"),
    ({"NDims": "3.5"}, "NDims is not a whole number"),
    ({"NDims": "-1"}, "NDims is not a whole number"),
    ({"NDims": "0"}, "number of dimensions"),
    ({"NDims": ""}, "NDims is not a whole number"),
    ({"DimSize": None}, "no DimSize"),
    ({"DimSize": "6 8"}, "DimSize gives 2 values for 3 axes"),
    ({"DimSize": "6 8 4 2"}, "DimSize gives 4 values for 3 axes"),
    ({"DimSize": "6 8 0"}, "empty axis"),
    ({"DimSize": "6 8 -4"}, "not whole numbers"),
    ({"DimSize": "6 8 1e3"}, "not whole numbers"),
    ({"ElementSpacing": "nan 1 1"}, "ElementSpacing holds values that are not finite"),
    ({"ElementSpacing": "1 1"}, "ElementSpacing gives 2 values where 3"),
    ({"ElementSpacing": "1 1 \xff\xfe"}, "ElementSpacing"),
    ({"Offset": "1e999 0 0"}, "Offset holds values that are not finite"),
    ({"Offset": "0 0"}, "Offset gives 2 values"),
    ({"TransformMatrix": "1 0 0 0 1 0"}, "TransformMatrix gives 6 values where 9"),
    ({"TransformMatrix": "1 0 0 0 1 0 0 0 inf"}, "TransformMatrix holds"),
    ({"CenterOfRotation": "True"}, "CenterOfRotation"),
    ({"ElementType": "MET_BOGUS"}, "unknown ElementType"),
    ({"ElementType": "gzip"}, "unknown ElementType"),
    ({"ElementType": None}, "no ElementType"),
    ({"ElementNumberOfChannels": "0"}, "ElementNumberOfChannels"),
    ({"ElementNumberOfChannels": "1e308"}, "ElementNumberOfChannels"),
    ({"HeaderSize": "-5"}, "HeaderSize"),
    ({"CompressedDataSize": "nan"}, "CompressedDataSize"),
])
def test_metaimage_header_lies_are_refused(tmp_path, fields, match):
    for path in (_mha(tmp_path, **fields), _mhd(tmp_path, **fields)):
        _refused(path, match)


def test_metaimage_dimensions_outside_2_to_4_are_unsupported(tmp_path):
    _refused(_mha(tmp_path, NDims="1", DimSize="192", ElementSpacing="1", Offset="0",
                  CenterOfRotation="0", TransformMatrix="1"), "1-D images", UnsupportedError)
    _refused(_mha(tmp_path, NDims="5", DimSize="6 8 4 1 1", ElementSpacing=None, Offset=None,
                  CenterOfRotation=None, TransformMatrix=None), "5-D images", UnsupportedError)


def test_a_repeated_field_cannot_hide_a_bad_value(tmp_path):
    path = tmp_path / "r.mha"
    path.write_bytes((_meta() + "NDims = 1e308\nElementDataFile = LOCAL\n").encode()
                     + DATA.tobytes())
    _refused(path, "NDims")


def test_metaimage_declaring_more_than_the_file_holds_is_refused_before_itk(tmp_path):
    _refused(_mha(tmp_path, data=DATA.tobytes()[:-2]), "cannot hold them")
    _refused(_mhd(tmp_path, raw=DATA.tobytes()[:100]), "cannot hold them")
    _refused(_mhd(tmp_path, HeaderSize="100"), "cannot hold them")
    _refused(_mha(tmp_path, DimSize="46000 46000 46000"), "cannot hold them")
    # compressed: bounded by what deflate can reach
    _refused(_mha(tmp_path, CompressedData="True", DimSize="46000 46000 46000"),
             "cannot hold them")


def test_check_header_states_what_is_declared(tmp_path):
    path = _mhd(tmp_path)
    declared = check_header(path, data_files(path))
    assert declared.sizes == (6, 8, 4) and declared.voxel_bytes == 2 and declared.encoding == "raw"
    assert check_header(tmp_path / "x.nii", data_files(tmp_path / "x.nii")) is None


# NRRD fields --------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, match", [
    ({"dimension": None}, "no dimension"),
    ({"dimension": "1e308"}, "dimension is not a whole number"),
    ({"dimension": "46000 46000 46000"}, "dimension is not a whole number"),
    ({"dimension": "0"}, "invalid dimension"),
    ({"sizes": None}, "no sizes"),
    ({"sizes": "True"}, "sizes gives 1 values for 3 axes"),
    ({"sizes": "6 8 0"}, "empty axis"),
    ({"sizes": "6 8 nan"}, "not whole numbers"),
    ({"type": "block"}, "unknown or unsupported voxel type"),
    ({"type": "MET_DOUBLE"}, "unknown or unsupported voxel type"),
    ({"type": None}, "no type"),
    ({"encoding": "\xff\xfe"}, "unknown or unsupported encoding"),
    ({"encoding": None}, "no encoding"),
    ({"spacings": "1 1"}, "spacings gives 2 values"),
    ({"spacings": "1 inf 1"}, "spacings holds values that are not finite"),
    ({"space directions": "(nan,0,0) (0,1,0) (0,0,1)"}, "space directions hold invalid numbers"),
    ({"space directions": "(1,0,0) (0,1,0)"}, "one vector per axis"),
    ({"space directions": "(1,0,0) (0,1,0) (0,0)"}, "space dimension"),
    ({"space directions": "True"}, "space directions are malformed"),
    ({"space origin": "(1,2)"}, "space origin"),
    ({"space origin": "0 0 0"}, "space origin are malformed|not readable"),
    ({"space dimension": "1e308", "space": None}, "space dimension is not a whole number"),
    ({"byte skip": "-7"}, "byte skip"),
    ({"line skip": "nan"}, "line skip"),
])
def test_nrrd_header_lies_are_refused(tmp_path, fields, match):
    _refused(_nrrd(tmp_path, **fields), match)


def test_nrrd_declaring_more_than_the_file_holds_is_refused_before_itk(tmp_path):
    _refused(_nrrd(tmp_path, data=DATA.tobytes()[:50]), "cannot hold them")
    _refused(_nrrd(tmp_path, sizes="46000 46000 46000"), "cannot hold them")
    _refused(_nrrd(tmp_path, sizes="46000 46000 46000", encoding="gzip"), "cannot hold them")


# Honest files still load --------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".mha", ".mhd", ".nrrd", ".nhdr", ".nii", ".nii.gz"])
@pytest.mark.parametrize("compress", [False, True])
def test_files_simpleitk_writes_still_load(tmp_path, suffix, compress):
    for array in (DATA, DATA.astype(np.float64), DATA.astype(np.uint8)):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing((0.7, 0.8, 2.5))
        path = tmp_path / f"v{suffix}"
        sitk.WriteImage(image, str(path), useCompression=compress)
        volume = load(path)
        np.testing.assert_array_equal(volume.array, array)
        assert volume.spacing == pytest.approx((0.7, 0.8, 2.5))


def test_handwritten_headers_still_load(tmp_path):
    for path in (_mha(tmp_path), _mhd(tmp_path), _nrrd(tmp_path),
                 _mhd(tmp_path, TransformMatrix=None, Offset=None, CenterOfRotation=None,
                      AnatomicalOrientation=None, BinaryDataByteOrderMSB=None, ObjectType=None),
                 _nrrd(tmp_path, **{"space directions": "(0.7,0,0) (0,0.8,0) (0,0,2.5)",
                                    "spacings": None, "type": "signed short int"})):
        volume = load(path)
        np.testing.assert_array_equal(volume.array, DATA)
    # a 4-D MetaImage and NRRD: the first volume, with a warning
    data4 = DATA.tobytes() * 2
    mha4 = _mha(tmp_path, NDims="4", DimSize="6 8 4 2", ElementSpacing="0.7 0.8 2.5 1",
                Offset="0 0 0 0", CenterOfRotation="0 0 0 0",
                TransformMatrix="1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", AnatomicalOrientation=None,
                data=data4)
    nrrd4 = _nrrd(tmp_path, dimension="4", sizes="6 8 4 2", space=None,
                  **{"space directions": None, "space origin": None, "kinds": None,
                     "spacings": "0.7 0.8 2.5 1"}, data=data4)
    for path in (mha4, nrrd4):
        volume = load(path)
        np.testing.assert_array_equal(volume.array, DATA)
        assert any("4-D" in w for w in volume.warnings)


def test_every_refusal_is_a_candor_error_with_no_header_text(tmp_path):
    """The messages name the field, never its value (a header may hold anything)."""
    value = "Doe^Jane 1 2"
    for path in (_mha(tmp_path, NDims=value), _mha(tmp_path, DimSize=value),
                 _mha(tmp_path, ElementType=value), _nrrd(tmp_path, type=value),
                 _nrrd(tmp_path, sizes=value)):
        with pytest.raises(CandorError) as info:
            load(path)
        assert "Doe" not in str(info.value) and "1 2" not in str(info.value)
