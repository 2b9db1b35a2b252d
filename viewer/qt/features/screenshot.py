"""File › Save Screenshot: the window or one view, to PNG."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from engine.errors import CandorError
from viewer.qt.screenshot import TARGETS, save_screenshot

ORDER = 30
NAMES = {"window": "&Window…", "axial": "&Axial view…", "coronal": "&Coronal view…",
         "sagittal": "&Sagittal view…", "3d": "&3D view…"}


NEEDS = ("model", "viewer")


def install(services) -> None:
    window = services.window
    menu = QMenu("Save &Screenshot", window)
    window.file_menu.insertMenu(window.action_quit, menu)
    services.screenshot_menu = menu

    def ask(target: str) -> None:
        path, _ = QFileDialog.getSaveFileName(window, "Save screenshot", f"candor-{target}.png",
                                              "PNG images (*.png)")
        if not path:
            return
        try:
            saved = save_screenshot(services, target, path)
            window.statusBar().showMessage(f"Saved {saved.name}", 4000)
        except CandorError as exc:
            QMessageBox.warning(window, "Screenshot", str(exc))

    for target in TARGETS:
        action = menu.addAction(NAMES[target])
        action.triggered.connect(lambda _=False, t=target: ask(t))
    menu.setEnabled(False)
    services.model.events.image.connect(lambda layer: menu.setEnabled(layer is not None))
