"""Help › Keyboard and Mouse… (the shortcuts dialog)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from viewer.qt.shortcuts import ShortcutsDialog

ORDER = 90


def install(window) -> None:
    action = QAction("&Keyboard and Mouse…", window)
    action.setShortcut(QKeySequence("F1"))

    def show() -> None:
        window.shortcuts_dialog = ShortcutsDialog(window)
        window.shortcuts_dialog.open()

    action.triggered.connect(show)
    window.help_menu.insertAction(window.action_about, action)
    window.action_shortcuts = action
