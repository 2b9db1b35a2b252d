"""No patient identifier leaves Candor through any of the new bad-input messages (issue 13).

One folder, written here, holds every bad-input kind the loader now skips, warns about or refuses.
Every DICOM file carries canary identifiers (name, ID, birth date, accession number) and every
file name a canary too; NIfTI headers carry the canary name in ``descrip``, the MetaImage header
in a free field. ``candor scan --json`` on the folder and ``candor info --json`` / ``candor
convert`` on each case run with ``-vv`` and every log record captured; no canary may appear in
stdout, stderr, the JSON, a log record (message or arguments), a Python warning, a volume's
``warnings`` or an exception message. Each case must also produce its expected outcome (a
warning, a skip with a reason, or a clear error), so a silent pass is impossible.

File names are the user's own pointers: the only place one may appear is the ``path`` of a
``skipped`` entry in the scan document, which names the file the user must look at.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import shutil
import struct
import warnings as pywarnings
import zlib
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian

from engine.cli import main
from engine.errors import CandorError
from engine.io import load, scan, write_image, write_series
from tests.engine.io.corpus import PIXEL_TAG, set_attr
from tests.engine.io.helpers import phantom
from tests.engine.io.test_damaged_dicom import _deflated_body, flip_vr_byte

NAME, PID, BIRTH, ACCESSION = "DOE^JOHN^CANARYNAME", "CANARYID7731", "19230417", "ACCCANARY99"
FILE = "DOE_JOHN_123"  # in every file and folder name
IDENTITY = (NAME, "DOE^JOHN", "CANARYNAME", PID, BIRTH, ACCESSION)
CANARIES = IDENTITY + (FILE, "DOE_JOHN")
PATTERN = FILE + "_{index:04d}.dcm"
IDENTIFIERS = {"PatientName": NAME, "PatientID": PID, "PatientBirthDate": BIRTH,
               "AccessionNumber": ACCESSION}


@dataclass
class Case:
    name: str
    path: Path  # what `info` and `convert` are given: a file, or the case's folder
    expect: str  # "warning" (loads, and says what is wrong) or "error" (refused)
    text: str  # a part of the warning or error that must appear


def identify(ds) -> None:
    for key, value in IDENTIFIERS.items():
        setattr(ds, key, value)


def dicom_series(folder: Path, nz: int = 3, **kw) -> list[Path]:
    edit = kw.pop("edit", None)

    def both(ds, k):
        identify(ds)
        if edit is not None:
            edit(ds, k)
    return write_series(phantom(nz=nz, ny=12, nx=14), folder, patient_name=NAME, patient_id=PID,
                        filename_pattern=PATTERN, edit=both, **kw)


# The builders: each writes one case into ``root`` ------------------------------------------------

def flipped_vr(root: Path) -> Case:
    files = dicom_series(root / f"{FILE}_vr", nz=3)
    flip_vr_byte(files[1], (0x0028, 0x0010))
    return Case("flipped VR byte", files[1], "error", "invalid or unknown value representation")


def rle_lying_rows(root: Path) -> Case:
    src = get_testdata_file("MR_small_RLE.dcm")
    if src is None:
        pytest.skip("pydicom test file MR_small_RLE.dcm is not installed")
    ds = pydicom.dcmread(src)
    identify(ds)
    ds.Rows, ds.Columns = 64, 32
    folder = root / f"{FILE}_rle"
    folder.mkdir()
    path = folder / f"{FILE}.dcm"
    ds.save_as(path)
    return Case("RLE with lying Rows/Columns", path, "error", "an RLE segment holds more than")


def shared_sop_uid(root: Path) -> Case:
    folder = root / f"{FILE}_sop"
    dicom_series(folder, nz=3, edit=set_attr(SOPInstanceUID="1.2.826.0.1.3680043.8.498.7"))
    return Case("slices sharing one SOP Instance UID", folder, "warning",
                "slices share one SOP Instance UID at different positions")


def true_duplicate(root: Path) -> Case:
    folder = root / f"{FILE}_dup"
    files = dicom_series(folder, nz=3)
    shutil.copy(files[1], folder / f"{FILE}_copy.dcm")
    return Case("a true duplicate", folder, "warning", "second copy of a slice")


def polyglot_zip(root: Path) -> Case:
    folder = root / f"{FILE}_zip"
    for f in dicom_series(folder, nz=2):
        data = bytearray(f.read_bytes())
        data[:8] = b"PK\x03\x04\x14\x00\x00\x00"
        f.write_bytes(bytes(data))
    return Case("ZIP polyglot preamble", folder, "warning", "a ZIP archive")


def sparse_46000(root: Path) -> Case:
    (path,) = dicom_series(root / f"{FILE}_sparse", nz=1, edit=set_attr(Rows=46000, Columns=46000))
    data = bytearray(path.read_bytes())
    i = data.index(PIXEL_TAG)
    length = 46000 * 46000 * 2
    struct.pack_into("<I", data, i + 8, length)
    path.write_bytes(bytes(data[:i + 12]))
    os.truncate(path, i + 12 + length)
    return Case("sparse 46000×46000 slice", path, "error", "46000×46000 pixels per slice")


def deflate_bomb(root: Path) -> Case:
    (path,) = dicom_series(root / f"{FILE}_deflate", nz=1,
                           transfer_syntax=DeflatedExplicitVRLittleEndian)
    raw = path.read_bytes()
    start = len(raw) - len(_deflated_body(raw, pydicom.dcmread(path)))
    inflated = zlib.decompress(raw[start:], -zlib.MAX_WBITS)
    bomb = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    tail = struct.pack("<HH2sHI", 0x0029, 0x1010, b"OB", 0, 8 << 20) + bytes(8 << 20)
    path.write_bytes(raw[:start] + bomb.compress(inflated[:inflated.index(PIXEL_TAG)] + tail)
                     + bomb.flush())
    return Case("deflate bomb", path, "error", "deflated data inflates to more than 4 MiB")


def _nifti(path: Path, data=None, *, affine_s=None, pixdim=None) -> Path:
    base = np.diag([2.0, 3.0, 4.0, 1.0])
    img = nib.Nifti1Image(np.ones((4, 5, 6), np.int16) if data is None else data, base)
    img.set_qform(base, code=1)
    img.set_sform(base if affine_s is None else affine_s, code=1)
    img.header["descrip"] = NAME.encode()
    img.header["aux_file"] = PID.encode()
    nib.save(img, path)
    if pixdim is not None:
        raw = bytearray(path.read_bytes())
        struct.pack_into("<3f", raw, 80, *pixdim)
        path.write_bytes(bytes(raw))
    return path


def nifti_nan(root: Path) -> Case:
    data = np.linspace(-5, 5, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    data[0, 0, :3] = np.nan
    path = _nifti(root / f"{FILE}_nan.nii.gz", data)
    return Case("NIfTI with NaN voxels", path, "warning", "hold no number (NaN)")


def nifti_pixdim0(root: Path) -> Case:
    path = _nifti(root / f"{FILE}_pixdim.nii", pixdim=(0.0, 3.0, 4.0))
    return Case("NIfTI pixdim 0", path, "warning", "voxel spacing missing in the file")


def nifti_qform_sform(root: Path) -> Case:
    shifted = np.diag([2.0, 3.0, 4.0, 1.0])
    shifted[0, 3] = 10.0
    path = _nifti(root / f"{FILE}_forms.nii.gz", affine_s=shifted)
    return Case("NIfTI qform/sform disagreement", path, "warning", "qform and sform")


def nifti_sheared(root: Path) -> Case:
    shear = np.array([[2.0, 1.2, 0, 0], [0, 3.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 1]])
    path = _nifti(root / f"{FILE}_shear.nii", affine_s=shear)
    return Case("NIfTI sheared sform", path, "warning", "sheared")


def nifti_short_gzip(root: Path) -> Case:
    full = write_image(phantom(), root / "full.nii").read_bytes()
    (root / "full.nii").unlink()
    raw = bytearray(full)
    raw[148:148 + len(NAME)] = NAME.encode()  # descrip
    path = root / f"{FILE}_short.nii.gz"
    path.write_bytes(gzip.compress(bytes(raw[: 352 + (len(raw) - 352) // 20])))
    return Case("NIfTI short gzip stream", path, "error", "of the pixel bytes its header declares")


def mhd_outside(root: Path) -> Case:
    outside = root.parent / f"{FILE}_outside"
    outside.mkdir()
    (outside / f"{FILE}_secret.raw").write_bytes((NAME.encode() + b"|") * 4)
    folder = root / f"{FILE}_mhd"
    folder.mkdir()
    path = folder / f"{FILE}.mhd"
    path.write_text("ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementSpacing = 1 1 1\n"
                    f"PatientName = {NAME}\nElementType = MET_UCHAR\n"
                    f"ElementDataFile = ../../{FILE}_outside/{FILE}_secret.raw\n")
    return Case("MetaImage naming a file outside its folder", path, "error", "own folder")


BUILDERS = [flipped_vr, rle_lying_rows, shared_sop_uid, true_duplicate, polyglot_zip, sparse_46000,
            deflate_bomb, nifti_nan, nifti_pixdim0, nifti_qform_sform, nifti_sheared,
            nifti_short_gzip, mhd_outside]


# Running everything and collecting every text that leaves Candor ------------------------------

class Texts:
    """Every string Candor produced, with where it came from."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, text) -> None:
        self.items.append((where, text if isinstance(text, str) else repr(text)))

    def leaks(self, canaries) -> list[str]:
        return [f"{where}: {c!r} in {text[:300]!r}" for where, text in self.items
                for c in canaries if c.lower() in text.lower()]


def cli(texts: Texts, where: str, *argv: str, stdout: bool = True) -> tuple[int, str, str]:
    """``candor -vv ARGV``; its stderr (and stdout, unless the caller checks it) kept in ``texts``."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["-vv", *argv])
    if stdout:
        texts.add(f"{where} stdout", out.getvalue())
    texts.add(f"{where} stderr", err.getvalue())
    return code, out.getvalue(), err.getvalue()


def without_skipped_paths(doc: dict, allowed: set[str]) -> dict:
    """The scan document minus the ``path`` of each skipped entry (checked to be an input path)."""
    for entry in doc["skipped"]:
        assert entry["path"] in allowed, entry["path"]
    return {"series": doc["series"], "skipped": [e["reason"] for e in doc["skipped"]]}


def test_no_identifier_in_any_new_warning_error_or_log(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CANDOR_MAX_VOLUME_BYTES", "4M")  # the deflate bomb inflates to 8 MiB
    caplog.set_level(logging.DEBUG)
    root = tmp_path / "inbox"
    root.mkdir()
    cases = [build(root) for build in BUILDERS]
    # the canaries really are in the inputs (headers, NIfTI descrip, MetaImage field, names)
    ds = pydicom.dcmread(root / f"{FILE}_sop" / f"{FILE}_0000.dcm")
    assert (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate, ds.AccessionNumber) == \
        (NAME, PID, BIRTH, ACCESSION)
    assert NAME.encode() in gzip.decompress((root / f"{FILE}_nan.nii.gz").read_bytes())[:348]
    assert NAME in (root / f"{FILE}_mhd" / f"{FILE}.mhd").read_text()
    inputs = {str(p) for p in root.rglob("*")}
    texts = Texts()
    outcomes: dict[str, list[str]] = {c.name: [] for c in cases}

    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")

        # scan: the folder, then each case folder, in the library and through the CLI
        result = scan(root)
        for s in result.series:
            texts.add("scan series", s.to_dict())
        for k in result.skipped:
            texts.add("scan skip reason", k.reason)
        code, out, _ = cli(texts, "scan --json", "scan", str(root), "--json",
                           stdout=False)
        assert code == 0
        doc = json.loads(out)
        texts.add("scan --json (without skipped paths)", json.dumps(without_skipped_paths(doc, inputs)))
        reasons = {os.path.relpath(k.path, root): k.reason for k in result.skipped}
        warned = [w for s in result.series for w in s.warnings]

        for n, case in enumerate(cases):
            # the library: a volume's warnings, or the exception's message
            try:
                volume = load(case.path)
            except CandorError as exc:
                texts.add(f"{case.name}: load error", str(exc))
                outcomes[case.name].append(f"error: {exc}")
            else:
                texts.add(f"{case.name}: volume warnings", volume.warnings)
                texts.add(f"{case.name}: metadata", {k: v for k, v in volume.metadata.items()
                                                      if k != "source_files"})
                outcomes[case.name] += [f"warning: {w}" for w in volume.warnings]
            # the CLI: info --json and convert, each with -vv
            code, out, err = cli(texts, f"{case.name}: info", "info", str(case.path), "--json")
            assert code in (0, 2) and "internal error" not in err, (case.name, err)
            if code == 0:
                outcomes[case.name] += [f"warning: {w}" for w in json.loads(out)["warnings"]]
            else:
                outcomes[case.name].append(f"error: {err}")
            target = tmp_path / "converted" / f"case{n}.nii.gz"
            code, _, err = cli(texts, f"{case.name}: convert", "convert", str(case.path),
                               "--out", str(target))
            assert code in (0, 2) and "internal error" not in err, (case.name, err)
            assert (code == 0) == target.exists(), case.name
            outcomes[case.name].append(("converted: " if code == 0 else "error: ") + err)
        # info on every DICOM file of the folder, one by one (the series' members too)
        for path in sorted(root.rglob("*.dcm")):
            code, _, err = cli(texts, f"info {path.name}", "info", str(path), "--json")
            assert code in (0, 2) and "internal error" not in err, (path.name, err)

    for w in caught:
        texts.add(f"python warning {w.category.__name__}", str(w.message))
    for record in caplog.records:
        texts.add(f"log {record.name}", record.getMessage())
        texts.add(f"log {record.name} msg", str(record.msg))
        texts.add(f"log {record.name} args", record.args)
    texts.add("log text", caplog.text)

    # each case did what it should: else the absence of a canary proves nothing
    for case in cases:
        said = [o for o in outcomes[case.name] if o.startswith(case.expect)]
        assert any(case.text in o for o in said), (case, outcomes[case.name])
        if case.expect == "error":  # refused everywhere: never loaded, never converted
            assert not any(o.startswith(("warning", "converted")) for o in outcomes[case.name]), \
                (case, outcomes[case.name])
    # the scan skipped the damaged files with a reason and stated the series' problems
    assert any(r.startswith("damaged or truncated DICOM (an element has an invalid")
               for p, r in reasons.items() if p.startswith(f"{FILE}_vr")), reasons
    assert reasons[f"{FILE}_dup/{FILE}_copy.dcm"].startswith("duplicate of another file here")
    assert "46000×46000" in reasons[f"{FILE}_sparse/{FILE}_0000.dcm"]
    assert "inflates to more than 4 MiB" in reasons[f"{FILE}_deflate/{FILE}_0000.dcm"]
    assert any("share one SOP Instance UID" in w for w in warned), warned
    assert any("a ZIP archive" in w for w in warned), warned

    leaks = texts.leaks(CANARIES)
    assert not leaks, "\n".join(leaks)
    # and no identifier was written into a converted file (NIfTI descrip, the outside bytes)
    for path in (tmp_path / "converted").glob("*.nii.gz"):
        data = gzip.decompress(path.read_bytes())
        assert not any(c.encode() in data for c in IDENTITY), path.name
