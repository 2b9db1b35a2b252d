"""The OOD warning: a coloured banner across the views that stays until the reader dismisses it.

It lists, in plain words, which checks fired. Red when a hard check fired (wrong modality, CT-like
values, rescaled intensities, too small a field of view…), amber when only the calibrated scores
did. Dismissing it is recorded with the result (``record["acknowledged"]``), never silently lost.
"""

from __future__ import annotations

import datetime as _dt
import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

HARD_COLOR = "#9b1c1c"
SOFT_COLOR = "#8a5a00"


class OODBanner(QFrame):
    """Shows one OOD report; ``dismissed`` fires when the reader closes it."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ood_banner")
        self.title = QLabel(self)
        self.title.setObjectName("ood_title")
        self.title.setWordWrap(True)
        self.details = QLabel(self)
        self.details.setObjectName("ood_reasons")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.dismiss_button = QPushButton("Dismiss", self)
        self.dismiss_button.setToolTip("Hide this warning (your acknowledgement is recorded with the result)")
        self.dismiss_button.clicked.connect(self.dismiss)
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.details)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addLayout(text, 1)
        row.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.reasons: list[str] = []
        self.record: dict | None = None
        self.hide()

    def show_report(self, ood: dict, record: dict | None = None, model_name: str = "the model") -> None:
        """Show ``ood`` (``OODReport.to_dict()``); ``record`` is where the acknowledgement is stored."""
        self.reasons = list(ood.get("reasons") or [])
        self.record = record
        hard = any(c.get("fired") and c.get("kind") == "hard" for c in ood.get("checks", []))
        color = HARD_COLOR if hard else SOFT_COLOR
        self.setStyleSheet(f"#ood_banner {{ background: {color}; border-bottom: 2px solid #ffd34d; }}"
                           " QLabel { color: white; } #ood_title { font-weight: 700; font-size: 13px; }"
                           " QPushButton { color: black; }")
        self.title.setText(f"⚠ This scan may be outside what {model_name} was trained on — "
                           "review the AI result with extra care.")
        self.details.setText("<br>".join(f"• {html.escape(r)}" for r in self.reasons))
        self.show()
        self.raise_()

    def dismiss(self) -> None:
        if self.record is not None:
            self.record["acknowledged"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.hide()
        self.dismissed.emit()
