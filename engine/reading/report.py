"""The human-readable report: one self-contained HTML page (Qt-free; the viewer prints it to PDF).

Contents, in reading order: the trust verdict in plain words, the model and its version, the
lesion table (volume, RECIST long/short axis, slice, centroid, the model's doubt), the reader's
measurements, and a key image of each finding (:mod:`engine.reading.key_images`), embedded as
``data:`` PNGs so the one file is the whole report. Patient identifiers appear only when the
caller passes them (``identifiers``; the CLI's ``--include-identifiers``): a :class:`Volume`
never carries them, so nothing else can leak them.

The HTML uses only the subset Qt's rich text engine renders (tables, ``<img>``, inline CSS),
so :mod:`viewer.qt.report_pdf` prints the same page to PDF.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from engine import __version__
from engine.errors import InputError
from engine.labels import LabelTable
from engine.reading.findings import Findings
from engine.reading.key_images import key_image
from engine.reading.measure import Measurement
from engine.volume import Volume

_STYLE = ("body{font-family:sans-serif;font-size:10pt} h1{font-size:16pt} h2{font-size:12pt}"
          " th{background:#ddd;text-align:left} td,th{padding:2px 6px}"
          " .warn{color:#a00000;font-weight:bold} .small{color:#777}")
_LESION_HEAD = ("#", "Volume (mL)", "Long axis (mm)", "Short axis (mm)", "Slice k",
                "Centroid LPS (mm)", "Uncertainty mean", "Uncertainty max", "Saliency mean")


def _f(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _row(cells, tag: str = "td", cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in cells) + "</tr>"


def _lesion_rows(findings: Findings) -> list[str]:
    rows = [_row(_LESION_HEAD, "th")]
    for r in findings.lesions:
        centroid = ", ".join(f"{v:.1f}" for v in r.centroid_lps)
        rows.append(_row([f"{r.index}{' *' if r.small else ''}", f"{r.volume_ml:.3f}",
                          f"{r.long_diameter_mm:.1f}", f"{r.short_diameter_mm:.1f}",
                          r.diameter_slice, centroid, _f(r.uncertainty_mean, ".3f"),
                          _f(r.uncertainty_max, ".3f"), _f(r.saliency_mean, ".3f")],
                         cls="small" if r.small else ""))
    return rows


def measurement_text(m: Measurement) -> str:
    """One measurement in words, e.g. ``12.3 mm`` or ``80.0 mm² · mean 41.2 ± 3.1 HU``."""
    units = {"mm": "mm", "deg": "°", "mm2": "mm²", "mL": "mL"}
    text = f"{m.value:.3f} mL" if m.unit == "mL" else f"{m.value:.1f} {units.get(m.unit, m.unit)}"
    if m.stats is not None:
        unit = f" {m.stats.unit}" if m.stats.unit else ""
        text += (f" · mean {m.stats.mean:.1f} ± {m.stats.sd:.1f}{unit}, min {m.stats.min:.1f},"
                 f" max {m.stats.max:.1f}, median {m.stats.median:.1f} ({m.stats.voxels} voxels)")
    return text


def _measurements(findings: Findings) -> str:
    if not findings.measurements:
        return ""
    rows = [_row(("Name", "Kind", "Value"), "th")]
    rows += [_row((m.name, m.kind, measurement_text(m))) for m in findings.measurements]
    return "<h2>Measurements</h2><table border='1' cellspacing='0' width='100%'>" + "".join(rows) + "</table>"


def _key_images(findings: Findings, image: Volume, labels: Volume, table: LabelTable) -> str:
    colour = table.get(findings.label).color if findings.label in table else (230, 25, 75)
    parts = []
    for lesion in findings.lesions:
        key = key_image(image, labels, lesion, tuple(colour))
        data = base64.b64encode(key.png).decode("ascii")
        parts.append(f"<p><b>{escape(findings.label_name)} {lesion.index}</b> — slice k = "
                     f"{key.slice}, long axis {lesion.long_diameter_mm:.1f} mm (yellow)<br/>"
                     f"<img src=\"data:image/png;base64,{data}\"/></p>")
    return "<h2>Key images</h2>" + "".join(parts) if parts else ""


#: Source-file attributes a report shows when the reader asks for identifiers (keyword → heading).
IDENTIFIERS = {"PatientName": "Patient name", "PatientID": "Patient ID",
               "PatientBirthDate": "Birth date", "StudyDate": "Study date",
               "AccessionNumber": "Accession number"}


def patient_identifiers(image: Volume) -> dict[str, str]:
    """The patient's identifiers from the image's first DICOM source file (heading → value).

    Only for a report the reader asked to identify; a :class:`Volume` itself never carries them."""
    import pydicom

    files = image.metadata.get("source_files")
    if not files or image.metadata.get("source_format", "dicom") != "dicom":
        raise InputError("identifiers come from the DICOM files of the image; this image was not "
                         "loaded from a DICOM series")
    first = Path(files[0])
    try:
        ds = pydicom.dcmread(first, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise InputError(f"the image's first DICOM file cannot be read ({type(exc).__name__})") from None
    return {head: str(ds.get(key, "") or "–") for key, head in IDENTIFIERS.items()}


def _identifiers(identifiers: dict[str, str] | None) -> str:
    if not identifiers:
        return "<p class='small'>No patient identifiers (not requested).</p>"
    rows = [_row((k, v)) for k, v in identifiers.items()]
    return "<table>" + "".join(rows) + "</table>"


def build_html(findings: Findings, image: Volume, labels: Volume, table: LabelTable | None = None,
               *, identifiers: dict[str, str] | None = None) -> str:
    """The report page; ``labels`` (on the image's grid) gives the overlays of the key images."""
    if not labels.geometry.is_close(image.geometry):
        raise InputError("the mask is not on the image's grid; give the image the mask was drawn on")
    p = findings.provenance
    model = f"{p.model_name} {p.model_version or ''}".strip() if p.model_name else "none (manual)"
    verdict_cls = "warn" if p.ood_flag else ""
    n = len(findings.lesions)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"<h1>Reading report: {escape(findings.label_name)}</h1>"
            f"{_identifiers(identifiers)}"
            f"<p>Image: {escape(image.modality)}, {image.size[0]}×{image.size[1]}×{image.size[2]} "
            f"voxels of {' × '.join(f'{s:.2f}' for s in image.spacing)} mm.</p>"
            f"<h2>Trust</h2><p class='{verdict_cls}'>{escape(p.verdict())}</p>"
            f"<p>Model: {escape(model)}. Mask: {escape(p.kind)}.</p>")
    table_html = (f"<h2>Findings</h2><p>{n} connected component{'' if n == 1 else 's'} of label "
                  f"{findings.label} ({escape(findings.label_name)}), {findings.connectivity}-connected; "
                  f"* = under {findings.min_ml:g} mL (shown, marked). Axes as RECIST 1.1: the longest "
                  "diameter in the slice where it is largest, and the longest perpendicular to it. "
                  "Uncertainty is the model's epistemic uncertainty inside the component.</p>"
                  "<table border='1' cellspacing='0' width='100%'>" + "".join(_lesion_rows(findings)) + "</table>")
    foot = (f"<p class='small'>Written by Candor {__version__} on {when}. A measurement aid, "
            "not a diagnosis.</p>")
    body = head + table_html + _measurements(findings) + _key_images(findings, image, labels,
                                                                      table or LabelTable()) + foot
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Candor report</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def write_html(html: str, out: str | Path) -> Path:
    out = Path(out)
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out.name}: {exc.strerror or exc}") from None
    return out
