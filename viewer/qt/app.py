"""Start the Qt application and the main window."""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)


def create_application():
    """The QApplication (created once), with Candor's name and icon."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from engine import __version__
    from engine.resources import resource_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Candor")
    app.setOrganizationName("Candor")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(resource_path("icons", "candor.svg"))))
    return app


def run_gui(path: str | os.PathLike | None = None, screenshot: str | os.PathLike | None = None) -> int:
    """Open the main window (optionally on ``path``) and run the event loop until it closes.

    With ``screenshot``, save the shown window to that PNG and quit (for scripted checks of an
    installation, e.g. the standalone app's GUI test, and for documentation screenshots).
    """
    from PySide6.QtCore import QTimer

    from viewer.qt.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    window.show()
    if path:
        QTimer.singleShot(0, lambda: window.open_path(str(path)))
    if screenshot:
        def _shoot_and_quit() -> None:
            from viewer.qt.screenshot import save_screenshot

            app.processEvents()
            save_screenshot(window, "window", screenshot)
            window.close()
            app.quit()

        QTimer.singleShot(500, _shoot_and_quit)
    if os.environ.get("CANDOR_QUIT_AFTER_START"):
        # Start-up smoke test / benchmark (bench/bench_startup.py): quit once the window is up.
        QTimer.singleShot(0, app.quit)
    return app.exec()
