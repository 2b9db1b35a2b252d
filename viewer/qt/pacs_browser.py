"""File › Open from PACS…: search a PACS, pick a study and a series, retrieve it, open it.

:class:`PacsBrowser` is a standalone dialog fed by a job runner: a server (a saved profile of
``engine.pacs.profiles`` or a typed DICOMweb URL, with user and password), search fields, a table
of studies and one of the chosen study's series. Search, series listing and retrieval run as
jobs (``jobs_bridge.submit_watched``), never on the GUI thread; retrieval fills the engine's
per-server cache (``engine.pacs.cache``: hashed folder names, ``.partial`` until complete, a
cancelled or broken retrieval resumes) with a progress bar per instance and Cancel. A complete
folder is announced by ``retrieved(folder)``; the PACS feature opens it with the normal study
opener, so it loads exactly like a folder. Errors are the engine's plain sentences, shown in the
dialog. Patient names and IDs are shown in the tables and never logged.

:class:`ServerChooser` (server, user, password) is shared with the Send to PACS dialog; the
``*_job`` functions are the worker side (Qt-free).
"""

from __future__ import annotations

import datetime as _dt
import logging
from concurrent.futures import CancelledError
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFormLayout, QGridLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.errors import Cancelled, CandorError, InputError
from engine.jobs import report
from viewer.qt.jobs_bridge import error_text, outcome, submit_watched

log = logging.getLogger(__name__)

STUDY_COLUMNS = ("Patient name", "Patient ID", "Date", "Modalities", "Description", "Accession",
                 "Series", "Instances", "Study UID")
SERIES_COLUMNS = ("Modality", "No.", "Description", "Instances", "Series UID")
URL_HINT = "a saved server, or a DICOMweb URL such as http://host:8042/dicom-web"


# Worker side (runs on the job runner's threads) ---------------------------------------------------
def connect_for(profile, typed: str | None):
    """A connected client; the secret is the typed one, ``CANDOR_PACS_PASSWORD`` or the keyring."""
    from engine.pacs import PacsAuthError, connect, profiles

    secret = profiles.secret_for(profile, typed or None)
    if profile.auth != "none" and not secret:
        raise PacsAuthError(f"{profile.describe()} needs a password or token: type it in the "
                            "Password field")
    return connect(profile, secret)


def search_job(profile, typed, query, *, progress=None, cancel=None):
    studies = connect_for(profile, typed).find_studies(query)
    log.info("PACS search on %s: %d stud%s", profile.name, len(studies), "y" if len(studies) == 1 else "ies")
    return studies


def series_job(profile, typed, study_uid: str, *, progress=None, cancel=None):
    return connect_for(profile, typed).find_series(study_uid)


def retrieve_job(profile, typed, study_uid: str, series_uid: str | None, *, progress=None,
                 cancel=None):
    """Retrieve into the cache (resuming what an earlier try left), then keep the cache in size."""
    from engine.pacs import cache

    client = connect_for(profile, typed)
    dest = cache.series_folder(client.name, study_uid, series_uid)
    result = client.retrieve(study_uid, series_uid, dest, progress=progress, cancel=cancel)
    pruned = cache.prune(keep=dest)
    if pruned:
        log.info("the PACS cache was over its limit: %d older series removed", len(pruned))
    return result


def send_job(profile, typed, files: list[Path], *, progress=None, cancel=None):
    """Send ``files`` one by one (progress per file, Cancel between files): one result each."""
    client = connect_for(profile, typed)
    results = []
    for i, path in enumerate(files):
        report(progress, cancel, i / len(files), f"file {i + 1} of {len(files)}")
        results.extend(client.send([Path(path)]))
    report(progress, None, 1.0, f"{len(files)} files")
    return results


def _date_text(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def _number(value) -> str:
    return "" if value is None else str(value)


# Server choice -------------------------------------------------------------------------------------
class ServerChooser(QWidget):
    """Server (saved profile or typed URL), user and password; never stores the password."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from engine.pacs import profiles

        self.server = QComboBox(self)
        self.server.setEditable(True)
        self.server.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.server.lineEdit().setPlaceholderText(URL_HINT)
        self.server.setMinimumWidth(320)
        self.note = QLabel("", self)
        try:
            self.saved = profiles.load_all()
        except CandorError as exc:
            self.saved = {}
            self.note.setText(str(exc))
        self.server.addItems(sorted(self.saved))
        self.user = QLineEdit(self)
        self.user.setPlaceholderText("none")
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("empty: the keyring or CANDOR_PACS_PASSWORD")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Server:", self.server)
        form.addRow("User:", self.user)
        form.addRow("Password:", self.password)
        if self.note.text():
            form.addRow("", self.note)
        self.server.currentTextChanged.connect(self._server_changed)
        self._server_changed(self.server.currentText())

    def _server_changed(self, text: str) -> None:
        saved = self.saved.get(text.strip())
        if saved is not None:
            self.user.setText(saved.user)
        dimse = saved is not None and saved.transport == "dimse"
        self.user.setEnabled(not dimse)
        self.password.setEnabled(not dimse)

    def set_server(self, text: str, user: str = "", password: str = "") -> None:
        self.server.setEditText(text)
        if user:
            self.user.setText(user)
        self.password.setText(password)

    def profile(self):
        """The chosen server as a profile; raises :class:`CandorError` with a plain message."""
        from engine.pacs import profiles

        text = self.server.currentText().strip()
        if not text:
            raise InputError(f"choose {URL_HINT}")
        return profiles.with_user(profiles.resolve(text), self.user.text().strip() or None)

    def typed_secret(self) -> str | None:
        return self.password.text() or None


def _table(columns, parent) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[tuple]) -> None:
    table.clearSelection()
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.setItem(r, c, QTableWidgetItem(str(value)))


# The browser ---------------------------------------------------------------------------------------
class PacsBrowser(QDialog):
    """Search studies, list a study's series, retrieve one (or the whole study) into the cache.

    ``retrieved(folder)`` fires with a complete cache folder; ``job_done(kind, ok)`` after each
    search (``"search"``), series listing (``"series"``) or retrieval (``"retrieve"``).
    """

    retrieved = Signal(str)
    job_done = Signal(str, bool)

    def __init__(self, runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.setObjectName("pacs_browser")
        self.resize(980, 640)
        self.runner = runner
        self.watcher = None
        self.studies: list = []
        self.series: list = []
        self._server = None   # (profile, typed secret) of the last search: listing uses the same
        self._build()

    def _build(self) -> None:
        self.chooser = ServerChooser(self)
        self.fields: dict[str, QLineEdit] = {}
        grid = QGridLayout()
        specs = (("patient_id", "Patient ID:", ""), ("patient_name", "Patient name:", "DOE^* (wildcards)"),
                 ("modality", "Modality:", "CT, MR…"), ("since", "Date since:", "YYYY-MM-DD"),
                 ("accession", "Accession:", ""), ("description", "Description:", "study description"))
        for i, (key, label, hint) in enumerate(specs):
            edit = QLineEdit(self)
            edit.setPlaceholderText(hint)
            edit.returnPressed.connect(self.search)
            self.fields[key] = edit
            grid.addWidget(QLabel(label, self), i // 3, 2 * (i % 3))
            grid.addWidget(edit, i // 3, 2 * (i % 3) + 1)
        self.search_button = QPushButton("&Search", self)
        self.search_button.clicked.connect(self.search)
        grid.addWidget(self.search_button, 0, 6)
        self.study_table = _table(STUDY_COLUMNS, self)
        self.study_table.itemSelectionChanged.connect(self._study_selected)
        self.series_table = _table(SERIES_COLUMNS, self)
        self.series_table.doubleClicked.connect(lambda _i: self.retrieve())
        self.status = QLabel("Choose a server and search.", self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.retrieve_button = QPushButton("&Retrieve", self)
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Close", self)
        self.cancel_button.clicked.connect(self.cancel)
        for button in (self.search_button, self.retrieve_button, self.cancel_button):
            button.setAutoDefault(False)   # Enter in a search field searches, and only that
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.retrieve_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.chooser)
        layout.addLayout(grid)
        layout.addWidget(QLabel("Studies", self))
        layout.addWidget(self.study_table, 3)
        layout.addWidget(QLabel("Series of the selected study (none selected: the whole study)", self))
        layout.addWidget(self.series_table, 2)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # Jobs ---------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.watcher is not None and not self.watcher.job.state.finished

    def _run(self, fn, *args, done, name: str) -> None:
        self.progress.setValue(0)
        self.watcher = submit_watched(self.runner, fn, *args, parent=self, on_finished=done, name=name)
        self.watcher.progress.connect(self._on_progress)
        self._sync()

    def _settle(self, job):
        """``(value, error)`` of the current job, or None for a job superseded by a newer one."""
        if self.watcher is None or job is not self.watcher.job:
            return None
        self.watcher = None
        self._sync()
        return outcome(job)

    def _sync(self) -> None:
        busy = self.busy
        self.search_button.setEnabled(not busy)
        self.retrieve_button.setEnabled(not busy and self._selected_study() is not None)
        self.cancel_button.setText("Cancel" if busy else "Close")
        self.study_table.setEnabled(not busy or self._listing)
        self.series_table.setEnabled(not busy)

    @property
    def _listing(self) -> bool:
        return self.watcher is not None and self.watcher.job.name == "pacs-series"

    def _on_progress(self, event) -> None:
        self.progress.setValue(int(event.fraction * 1000))
        if event.stage:
            self.status.setText(f"Retrieving {event.stage}…")

    # Search -------------------------------------------------------------------------------------
    def query(self):
        """The search as an ``engine.pacs.Query``; raises :class:`InputError` for a bad date."""
        from engine.pacs import Query

        text = {key: edit.text().strip() for key, edit in self.fields.items()}
        since = None
        if text["since"]:
            try:
                since = _dt.date.fromisoformat(text["since"])
            except ValueError:
                raise InputError("give the date since as YYYY-MM-DD, e.g. 2024-01-31") from None
        return Query(patient_id=text["patient_id"], patient_name=text["patient_name"],
                     modality=text["modality"], accession=text["accession"],
                     description=text["description"], since=since)

    def search(self) -> None:
        if self.busy:
            return
        try:
            profile, query = self.chooser.profile(), self.query()
        except CandorError as exc:
            self.status.setText(f"Not searched: {exc}")
            self.job_done.emit("search", False)
            return
        self._server = (profile, self.chooser.typed_secret())
        self.status.setText(f"Searching {profile.describe()}…")
        self._run(search_job, *self._server, query, done=self._searched, name="pacs-search")

    def _searched(self, job) -> None:
        settled = self._settle(job)
        if settled is None:
            return
        value, error = settled
        self.progress.setValue(0)
        if error is not None:
            self.status.setText(self._failure("Search failed", error))
            self.job_done.emit("search", False)
            return
        self.studies, self.series = list(value), []
        _fill(self.series_table, [])
        _fill(self.study_table, [(s.patient_name, s.patient_id, _date_text(s.study_date),
                                  "/".join(s.modalities), s.description, s.accession,
                                  _number(s.series_count), _number(s.instance_count), s.study_uid)
                                 for s in self.studies])
        count = len(self.studies)
        self.status.setText(f"{count} stud{'y' if count == 1 else 'ies'} found; choose one." if count
                            else "No study matches this search.")
        if count:
            self.study_table.selectRow(0)
        self._sync()
        self.job_done.emit("search", True)

    # Series -------------------------------------------------------------------------------------
    def _selected_study(self):
        rows = self.study_table.selectionModel().selectedRows()
        return self.studies[rows[0].row()] if rows and rows[0].row() < len(self.studies) else None

    def selected_series(self):
        rows = self.series_table.selectionModel().selectedRows()
        return self.series[rows[0].row()] if rows and rows[0].row() < len(self.series) else None

    def _study_selected(self) -> None:
        study = self._selected_study()
        self.series = []
        _fill(self.series_table, [])
        if study is None or self._server is None or (self.busy and not self._listing):
            self._sync()
            return
        self.status.setText("Listing the study's series…")
        self._run(series_job, *self._server, study.study_uid, done=self._listed, name="pacs-series")

    def _listed(self, job) -> None:
        settled = self._settle(job)
        if settled is None:
            return
        value, error = settled
        if error is not None:
            self.status.setText(self._failure("Could not list the series", error))
            self.job_done.emit("series", False)
            return
        self.series = sorted(value, key=lambda s: (s.series_number is None, s.series_number or 0))
        _fill(self.series_table, [(s.modality, _number(s.series_number), s.description,
                                   _number(s.instance_count), s.series_uid) for s in self.series])
        if len(self.series) == 1:
            self.series_table.selectRow(0)
        self.status.setText(f"{len(self.series)} series; choose one and Retrieve (none chosen: "
                            "the whole study).")
        self.job_done.emit("series", True)

    # Retrieve -----------------------------------------------------------------------------------
    def retrieve(self) -> None:
        study, series = self._selected_study(), self.selected_series()
        if self.busy or study is None or self._server is None:
            return
        what = "series" if series is not None else "study"
        self.status.setText(f"Retrieving the {what}…")
        self._run(retrieve_job, *self._server, study.study_uid,
                  series.series_uid if series is not None else None,
                  done=self._retrieved, name="pacs-retrieve")

    def _retrieved(self, job) -> None:
        settled = self._settle(job)
        if settled is None:
            return
        value, error = settled
        if error is not None:
            self.progress.setValue(0)
            if isinstance(error, (Cancelled, CancelledError)):
                self.status.setText("Retrieval cancelled; nothing was opened. The instances already "
                                    "fetched stay in the cache: Retrieve again to resume.")
            else:
                self.status.setText(self._failure("Retrieval failed", error) + " The instances "
                                    "already fetched stay in the cache: Retrieve again to resume.")
            self.job_done.emit("retrieve", False)
            return
        self.progress.setValue(1000)
        kept = f" ({value.skipped} already in the cache)" if value.skipped else ""
        self.status.setText(f"Retrieved {value.total} instance{'s' if value.total != 1 else ''}"
                            f"{kept}; opening…")
        self.job_done.emit("retrieve", True)
        self.retrieved.emit(str(value.folder))

    @staticmethod
    def _failure(doing: str, error: BaseException) -> str:
        if isinstance(error, (Cancelled, CancelledError)):
            return f"{doing}: cancelled."
        return f"{doing}: {error_text(error)}"

    # Closing ------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Cancel the running job; with nothing running, close the dialog."""
        if self.busy:
            self.watcher.job.cancel()
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def reject(self) -> None:  # Esc / window close also cancel the work
        if self.busy:
            self.watcher.job.cancel()
        super().reject()
