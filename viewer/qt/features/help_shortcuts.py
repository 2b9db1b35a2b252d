"""Help › Keyboard and Mouse… (the shortcuts dialog)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from viewer.qt.shortcuts import ShortcutsDialog

ORDER = 90


NEEDS: tuple[str, ...] = ()


class HelpShortcuts:
    """Help › Keyboard and Mouse… (``action``) and the dialog it last opened (``dialog``)."""

    def __init__(self, window) -> None:
        self.window = window
        self.dialog: ShortcutsDialog | None = None
        self.action = QAction("&Keyboard and Mouse…", window)
        self.action.setShortcut(QKeySequence("F1"))
        self.action.triggered.connect(self.show)
        window.help_menu.insertAction(window.action_about, self.action)

    def show(self) -> None:
        self.dialog = ShortcutsDialog(self.window)
        self.dialog.open()


def install(services) -> None:
    services.help = HelpShortcuts(services.window)
