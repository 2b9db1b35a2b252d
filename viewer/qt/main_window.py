"""The main window: menus, status bar, the central view area, drag-and-drop of folders and files."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox, QPushButton,
                               QStackedWidget, QVBoxLayout, QWidget)

from engine import __version__
from engine.jobs import JobRunner
from viewer.state.recent import RecentFiles

log = logging.getLogger(__name__)

WINDOW_TITLE = "Candor"
#: Top-level menus in the order they appear; features add their items through ``menu()``.
MENU_ORDER = ("&File", "&Edit", "&View", "&Measure", "&AI", "&Help")
IMAGE_FILE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd DICOMDIR);;"
                     "All files (*)")


class MainWindow(QMainWindow):
    """Candor's main window. ``open_requested(path)`` fires for every folder or file to open."""

    open_requested = Signal(str)
    #: Emitted from ``closeEvent`` before the window goes: features release VTK, timers, jobs.
    about_to_close = Signal()

    def __init__(self, recent: RecentFiles | None = None, parent: QWidget | None = None,
                 install_features: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle(WINDOW_TITLE)
        self.resize(1280, 800)      # until the saved geometry (or 90 % of the screen) is applied
        self.setAcceptDrops(True)
        self.recent = recent or RecentFiles()
        #: Runs long work off the GUI thread for every feature (``jobs_bridge.submit_watched``).
        self.jobs = JobRunner()
        from engine.models.store import ModelStore
        from viewer.qt.services import Services

        #: The app context each feature's ``install`` receives (``viewer/qt/services.py``).
        self.services = Services(self, self.jobs, ModelStore())
        self.central = QStackedWidget(self)
        self.placeholder = self._build_placeholder()
        self.central.addWidget(self.placeholder)
        self.setCentralWidget(self.central)
        self._menus: dict[str, object] = {}
        self._build_menus()
        self.recent.changed.connect(self._rebuild_recent_menu)
        self.statusBar().showMessage("Ready")
        if install_features:
            from viewer.qt.features import install_all

            install_all(self.services)
        self._restore_settings()

    def _build_placeholder(self) -> QWidget:
        """The empty window: how to open a study, and the last one (if it is still there)."""
        box = QWidget(self)
        box.setObjectName("placeholder")
        lay = QVBoxLayout(box)
        lay.addStretch(1)
        hint = QLabel("Open a scan folder (File › Open Folder…) or drop a folder or file here.", box)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(hint)
        last = next((p for p in self.recent.paths[:1] if Path(p).exists()), None)
        self.reopen_button = QPushButton(f"Reopen last study: {Path(last).name}" if last else "", box)
        self.reopen_button.setToolTip(last or "")
        self.reopen_button.setVisible(last is not None)
        if last is not None:
            self.reopen_button.clicked.connect(lambda: self.open_path(last))
        lay.addWidget(self.reopen_button, 0, Qt.AlignmentFlag.AlignCenter)
        lay.addStretch(1)
        return box

    # Settings -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        """Geometry, docks and the view layout of the last session (``window_settings``)."""
        from viewer.qt import window_settings

        window_settings.restore_geometry(self)
        layout = window_settings.restore_state(self)
        model = self.services.model
        if model is not None and layout is not None:
            try:
                model.layout = layout
            except ValueError:
                log.info("saved layout %r is not known; keeping %s", layout, model.layout)

    # Menus ----------------------------------------------------------------------------------
    def menu(self, title: str):
        """The top-level menu ``title`` (created on first use, placed by :data:`MENU_ORDER`)."""
        if title in self._menus:
            return self._menus[title]
        bar = self.menuBar()
        rank = MENU_ORDER.index(title) if title in MENU_ORDER else len(MENU_ORDER) - 1
        before = next((self._menus[t].menuAction() for t in MENU_ORDER[rank + 1:] if t in self._menus),
                      None)
        from PySide6.QtWidgets import QMenu

        menu = QMenu(title, self)
        if before is None:
            bar.addMenu(menu)
        else:
            bar.insertMenu(before, menu)
        self._menus[title] = menu
        return menu

    def _build_menus(self) -> None:
        self.file_menu = self.menu("&File")
        self.action_open_folder = self._action(self.file_menu, "Open &Folder…", self.choose_folder,
                                               QKeySequence("Ctrl+O"))
        self.action_open_file = self._action(self.file_menu, "Open F&ile…", self.choose_file,
                                             QKeySequence("Ctrl+Shift+O"))
        self.recent_menu = self.file_menu.addMenu("&Recent")
        self._rebuild_recent_menu()
        self.file_menu.addSeparator()
        self.action_quit = self._action(self.file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.help_menu = self.menu("&Help")
        self.action_about = self._action(self.help_menu, "&About Candor", self.show_about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent.paths:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent.paths))

    # Opening --------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open scan folder")
        if folder:
            self.open_path(folder)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image file", "", IMAGE_FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        """Record ``path`` in Recent and ask the loading machinery to open it."""
        p = Path(path)
        if not p.exists():
            QMessageBox.warning(self, "Cannot open", f"This path does not exist:\n{path}")
            return
        self.recent.add(p)
        self.statusBar().showMessage(f"Opening {p.name}…")
        self.open_requested.emit(str(p))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
                event.acceptProposedAction()
                return

    def closeEvent(self, event) -> None:  # noqa: N802
        from viewer.qt import window_settings

        model = self.services.model
        window_settings.save(self, model.layout if model is not None else None)
        self.about_to_close.emit()
        self.jobs.shutdown(cancel=True, wait=False)
        super().closeEvent(event)

    # Help -----------------------------------------------------------------------------------
    def show_about(self) -> None:
        QMessageBox.about(
            self, "About Candor",
            f"<b>Candor {__version__}</b><br>A reading tool with an AI engine that says why, "
            "how sure, and whether to trust it.<br><br>Not a certified medical device: "
            "for research use.")
