"""``candor report --pdf``: Qt prints the engine's report page; PDFium (an independent reader)
opens the file, its text says what the page says, and its first page, rendered to pixels, shows
the text and the key image's overlay (not a blank page)."""

from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
import pytest

from engine.errors import InputError
from tests.engine.reading.test_report import NAME, PID, study  # noqa: F401  (module fixture)
from viewer.cli import main
from viewer.qt.report_pdf import write_pdf


def _pdf_text_and_first_page(path):
    pdf = pdfium.PdfDocument(str(path))
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    pixels = np.asarray(pdf[0].render(scale=1.0).to_pil().convert("RGB"))
    return len(pdf), text, pixels


def test_cli_pdf_opens_in_pdfium_with_the_findings_and_a_key_image(qapp, study, tmp_path,  # noqa: F811
                                                                   capsys):
    out = tmp_path / "report.pdf"
    code = main(["report", str(study["mask_file"]), "--reference", str(study["root"] / "series"),
                 "--analysis", str(study["analysis"]), "--pdf", str(out)])
    assert code == 0, capsys.readouterr().err
    pages, text, pixels = _pdf_text_and_first_page(out)
    assert pages >= 1
    assert "Reading report" in text and "candor-brain-t1 2.0.0" in text
    assert "intensity out of range" in text
    assert NAME not in text and PID not in text
    h, w, _ = pixels.shape
    assert w / h == pytest.approx(210 / 297, rel=0.01)           # A4 portrait
    dark = (pixels.min(axis=2) < 128).mean()
    assert dark > 0.002                                          # text was drawn
    red = (pixels[..., 0].astype(int) - pixels[..., 1] > 80) & (pixels[..., 0] > 150)
    assert red.sum() > 50 or len(pdfium.PdfDocument(str(out))) > 1   # the overlay, if on page 1
    assert not list(tmp_path.glob(".*.part"))


def test_key_images_are_on_some_page(qapp, study, tmp_path):  # noqa: F811
    from engine.reading import lesion_table
    from engine.reading.findings import Findings
    from engine.reading.report import build_html
    from tests.engine.reading.test_report import TABLE

    rows = lesion_table(study["mask"], 2)
    page = build_html(Findings(2, "lesion", tuple(rows)), study["image"], study["mask"], TABLE)
    out = write_pdf(page, tmp_path / "r.pdf")
    pdf = pdfium.PdfDocument(str(out))
    reds = []
    for i in range(len(pdf)):
        px = np.asarray(pdf[i].render(scale=1.0).to_pil().convert("RGB")).astype(int)
        reds.append(int(((px[..., 0] - px[..., 1] > 80) & (px[..., 0] > 150)).sum()))
    assert sum(reds) > 200, reds         # both key images' overlays are printed


def test_bad_pdf_destinations_are_plain(qapp, tmp_path):
    with pytest.raises(InputError, match="not r.txt"):
        write_pdf("<p>x</p>", tmp_path / "r.txt")
    with pytest.raises(InputError, match="does not exist"):
        write_pdf("<p>x</p>", tmp_path / "missing" / "r.pdf")
