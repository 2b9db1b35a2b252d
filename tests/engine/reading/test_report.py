"""The human-readable report and ``candor report``: a DICOM series and a mask written by the test,
the page's numbers against the lesion table, its key images read back as PNG, the SR read back by
highdicom, and no patient identifier unless asked for."""

from __future__ import annotations

import base64
import json
import re

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk

from engine.cli import main
from engine.export import ExportOptions, Provenance, export_labels
from engine.io import load, write_series
from engine.labels import LabelInfo, LabelTable
from engine.reading import distance, lesion_table
from engine.reading.findings import AIProvenance, Findings
from engine.reading.key_images import key_image
from engine.reading.report import build_html
from engine.volume import Geometry, Volume

NAME, PID = "CANARY^REPORTPATIENT", "CANARY-RPT-99"
SPACING = (0.8, 1.2, 3.0)            # i, j, k (mm): anisotropic, so the key image is stretched
TABLE = LabelTable([LabelInfo(1, "brain", (170, 170, 170)), LabelInfo(2, "lesion", (230, 25, 75))])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """An axial MR series (k = 10 slices of 40 × 30) with a bright square where lesion 1 lies,
    and a mask: lesion 1 (8 × 6 voxels on slices 3 and 5, 10 × 8 on slice 4) and lesion 2 (one slice)."""
    root = tmp_path_factory.mktemp("report")
    g = Geometry((40, 30, 10), SPACING, (-16.0, -18.0, 20.0), np.eye(3).ravel())
    arr = np.full(g.shape, 200, np.int16)
    arr[3:6, 10:16, 5:13] = 900
    write_series(Volume(arr, g, "MR"), root / "series", modality="MR", patient_name=NAME,
                 patient_id=PID)
    image = load(root / "series")
    lab = np.zeros(g.shape, np.uint8)
    lab[2:8, 2:28, 2:38] = 1
    lab[3:6, 10:16, 5:13] = 2
    lab[4, 9:17, 4:14] = 2           # wider on slice 4: the slice lesion 1 is measured in
    lab[7, 20:22, 30:33] = 2
    mask = image.with_array(lab, modality="SEG")
    out = root / "mask.nii.gz"
    export_labels(mask, TABLE, image, out, ExportOptions(
        provenance=Provenance("corrected", "candor-brain-t1", "2.0.0")))
    analysis = root / "analysis.json"
    analysis.write_text(json.dumps({"model": {"name": "candor-brain-t1", "version": "2.0.0"},
                                    "ood": {"flag": True, "reasons": ["intensity out of range"]}}))
    return {"root": root, "image": image, "mask": mask, "mask_file": out, "analysis": analysis}


def _findings(study, **prov):
    rows = lesion_table(study["mask"], 2)
    m = (distance(study["image"].geometry, (5, 10, 4), (13, 10, 4), name="ruler"),)
    return Findings(2, "lesion", tuple(rows), measurements=m,
                    provenance=AIProvenance(**({"kind": "ai", "model_name": "candor-brain-t1",
                                                "model_version": "2.0.0", "ood_flag": False}
                                               | prov)))


def _pngs(html: str, folder) -> list[np.ndarray]:
    """The page's embedded key images, decoded by SimpleITK's PNG reader."""
    out = []
    for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html):
        path = folder / f"key-{len(out)}.png"
        path.write_bytes(base64.b64decode(data))
        out.append(sitk.GetArrayFromImage(sitk.ReadImage(str(path))))
    return out


def test_page_carries_the_lesion_table_verdict_and_one_key_image_per_finding(study, tmp_path):
    findings = _findings(study)
    html = build_html(findings, study["image"], study["mask"], TABLE)
    lesions = findings.lesions
    assert len(lesions) == 2
    for lesion in lesions:
        assert f"{lesion.volume_ml:.3f}" in html
        assert f"{lesion.long_diameter_mm:.1f}" in html
    # lesion 1 on slice 4: 10 × 8 voxels of 0.8 × 1.2 mm → the diagonal of their outer corners
    assert lesions[0].long_diameter_mm == pytest.approx(np.hypot(10 * 0.8, 8 * 1.2))
    assert "looks like those the model was checked on" in html
    assert "candor-brain-t1 2.0.0" in html
    assert "6.4 mm" in html                       # the ruler: 8 columns of 0.8 mm
    assert NAME not in html and PID not in html and "REPORTPATIENT" not in html
    assert "No patient identifiers" in html
    pngs = _pngs(html, tmp_path)
    assert len(pngs) == 2 and all(p.ndim == 3 and p.shape[2] == 3 for p in pngs)


def test_key_image_shows_the_slice_in_true_aspect_with_overlay_and_axis(study):
    lesion = lesion_table(study["mask"], 2)[0]
    key = key_image(study["image"], study["mask"], lesion, (230, 25, 75))
    assert key.slice == lesion.diameter_slice == 4
    path = study["root"] / "key.png"
    path.write_bytes(key.png)
    rgb = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    h, w, _ = rgb.shape
    # 30 rows × 1.2 mm against 40 columns × 0.8 mm: height : width = 36 : 32
    assert h / w == pytest.approx(36 / 32, rel=0.02)
    assert min(h, w) >= 320
    red = (rgb[..., 0].astype(int) - rgb[..., 1]) > 60
    yellow = (rgb[..., 0] > 200) & (rgb[..., 1] > 180) & (rgb[..., 2] < 80)
    assert red.any() and yellow.any()
    sy, sx = h / 30, w / 40
    # the tinted voxels are j 9–16, i 4–13 of the slice, scaled to the picture
    rows, cols = np.nonzero(red)
    assert rows.min() >= 9 * sy - 1 and rows.max() <= 17 * sy + 1
    assert cols.min() >= 4 * sx - 1 and cols.max() <= 14 * sx + 1
    # the long axis runs corner to corner of the same voxels (within one voxel)
    rows, cols = np.nonzero(yellow)
    assert rows.min() >= 8 * sy - 1 and rows.max() <= 18 * sy + 1
    assert cols.min() >= 3 * sx - 1 and cols.max() <= 15 * sx + 1
    assert rows.max() - rows.min() >= 6 * sy and cols.max() - cols.min() >= 8 * sx
    # background stays grey (R = G = B)
    assert (rgb[0, 0, 0] == rgb[0, 0, 1] == rgb[0, 0, 2])


def test_flagged_and_identified_page(study):
    findings = _findings(study, ood_flag=True, ood_reasons=("weak energy",))
    html = build_html(findings, study["image"], study["mask"], TABLE,
                      identifiers={"Patient name": NAME, "Patient ID": PID})
    assert "Caution" in html and "weak energy" in html and "class='warn'" in html
    assert NAME in html and PID in html


def test_cli_writes_html_and_sr_with_the_analysis_verdict(study, tmp_path, capsys):
    html, sr = tmp_path / "report.html", tmp_path / "report.dcm"
    code = main(["report", str(study["mask_file"]), "--reference", str(study["root"] / "series"),
                 "--analysis", str(study["analysis"]), "--html", str(html), "--sr", str(sr)])
    err = capsys.readouterr().err
    assert code == 0, err
    page = html.read_text(encoding="utf-8")
    # the sidecar says a person corrected the model's result; the analysis says it was flagged
    assert "A person corrected the result." in page and "intensity out of range" in page
    assert NAME not in page and PID not in page
    assert NAME not in err and PID not in err
    assert "2 findings of label 2 (lesion)" in err
    doc = hd.sr.srread(sr)
    groups = doc.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 2
    rows = lesion_table(study["mask"], 2)
    volumes = sorted(float(m.value) for g in groups
                     for m in g.get_measurements(name=hd.sr.CodedConcept("118565006", "SCT", "Volume")))
    assert volumes == pytest.approx(sorted(r.volume_ml for r in rows), abs=1e-3)


def test_cli_identifiers_only_when_asked(study, tmp_path, capsys):
    html = tmp_path / "named.html"
    code = main(["report", str(study["mask_file"]), "--reference", str(study["root"] / "series"),
                 "--html", str(html), "--include-identifiers"])
    assert code == 0, capsys.readouterr().err
    page = html.read_text(encoding="utf-8")
    assert NAME.replace("^", " ") in page or NAME in page
    assert PID in page


@pytest.mark.parametrize("extra, message", [
    ([], "say what to write"),
    (["--pdf", "x.pdf"], "--pdf needs the viewer"),
    (["--html", "x.html", "--analysis", "nothere.json"], "does not exist: nothere.json"),
    (["--html", "x.html", "--provenance", "ai"], None),        # the sidecar names the model
    (["--html", "x.html", "--label", "brain", "--sr", "x.txt"], "not x.txt"),
])
def test_cli_refusals_are_plain(study, tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    code = main(["report", str(study["mask_file"]), "--reference", str(study["root"] / "series"),
                 *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if message is None:
        assert code == 0, err
    else:
        assert code == 2 and message in err, err
        assert not list(tmp_path.glob("x.*"))


def test_cli_mask_on_another_grid_is_refused(study, tmp_path, capsys):
    other = tmp_path / "other"
    g = Geometry((20, 30, 10), SPACING, (-16.0, -18.0, 20.0), np.eye(3).ravel())
    write_series(Volume(np.zeros(g.shape, np.int16), g, "MR"), other, modality="MR")
    code = main(["report", str(study["mask_file"]), "--reference", str(other),
                 "--html", str(tmp_path / "r.html")])
    assert code == 2 and "not on the reference's grid" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
