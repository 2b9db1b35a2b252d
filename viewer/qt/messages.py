"""A readable list of load warnings and errors, in a dock: plain sentences, never a traceback."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem, QStyle

LEVELS = ("info", "warning", "error")


class MessagesPanel(QDockWidget):
    """Dock listing messages; it shows itself when a warning or error arrives."""

    def __init__(self, parent=None) -> None:
        super().__init__("Messages", parent)
        self.setObjectName("messages_dock")
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.setWidget(self.list)

    def add(self, text: str, level: str = "warning") -> None:
        icon = {"info": QStyle.StandardPixmap.SP_MessageBoxInformation,
                "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
                "error": QStyle.StandardPixmap.SP_MessageBoxCritical}[level]
        item = QListWidgetItem(self.style().standardIcon(icon), text)
        item.setData(Qt.ItemDataRole.UserRole, level)
        self.list.addItem(item)
        self.list.scrollToBottom()
        if level != "info":
            first = not self.isVisible()
            self.show()
            self.raise_()
            window = self.parent()
            if first and hasattr(window, "resizeDocks"):
                window.resizeDocks([self], [120], Qt.Orientation.Vertical)

    def texts(self, level: str | None = None) -> list[str]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [it.text() for it in items if level is None or it.data(Qt.ItemDataRole.UserRole) == level]

    def clear(self) -> None:
        self.list.clear()
