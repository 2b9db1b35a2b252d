"""Print the report page (:func:`engine.reading.report.build_html`) to PDF with Qt's own writer.

:class:`QTextDocument` lays the HTML out and :class:`QPdfWriter` prints it on A4 pages, so the
PDF needs no browser and no extra library. The page's key images are embedded ``data:`` PNGs;
Qt's rich-text engine does not decode ``data:`` URLs, so each one is handed to the document as an
image resource under a ``candor-key-N.png`` name first. ``candor report --pdf`` calls this from
the command line: without a running Qt application it starts an offscreen one (no display
needed).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from engine.errors import InputError

_DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
_MARGIN_MM = 15.0
_DPI = 150          # key images are ~320 px wide: ~54 mm on paper, a readable size


def _app():
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["candor-report"])
    return app


def document(html: str):
    """The laid-out :class:`QTextDocument` of ``html`` with its key images as resources."""
    from PySide6.QtCore import QByteArray, QUrl
    from PySide6.QtGui import QImage, QTextDocument

    _app()
    doc = QTextDocument()
    images = []

    def resource(match: re.Match) -> str:
        name = f"candor-key-{len(images) + 1}.png"
        image = QImage.fromData(QByteArray(base64.b64decode(match.group(1))), "PNG")
        if image.isNull():
            raise InputError("a key image of the report is not a readable PNG")
        images.append((name, image))
        return f'src="{name}"'

    html = _DATA_PNG.sub(resource, html)
    for name, image in images:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    doc.setHtml(html)
    return doc


def write_pdf(html: str, out: str | Path) -> Path:
    """Print ``html`` to the PDF file ``out`` (A4, 15 mm margins); returns ``out``."""
    from PySide6.QtCore import QMarginsF
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter

    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise InputError(f"a PDF report is written to a .pdf file, not {out.name}")
    if not out.parent.is_dir():
        raise InputError(f"the folder for {out.name} does not exist")
    doc = document(html)
    tmp = out.with_name(f".{out.name}.part")
    writer = QPdfWriter(str(tmp))
    writer.setResolution(_DPI)
    writer.setTitle("Candor report")
    writer.setCreator("Candor")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(*(_MARGIN_MM,) * 4), QPageLayout.Unit.Millimeter))
    doc.print_(writer)
    del writer   # the file is complete only once the writer is gone
    try:
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise InputError(f"Qt could not write {out.name}")
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"cannot write {out.name}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
