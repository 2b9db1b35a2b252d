"""View › Lesions: the lesion table of the active labels layer (issue 20, "Lesion table").

One row per connected component (26-connected) of the chosen label — by default the class named
"lesion" — with its volume, RECIST diameters, slices, LPS centroid, and, when the labels come from
an AI run that made them, the mean/max epistemic uncertainty and the mean saliency inside it
(from the heatmap layers of the same run: same provenance). Components under ``MIN_ML`` are shown
greyed with a tooltip. Click a row: the crosshair goes to the component's centroid, so all views
show it. The table is computed on the job runner and recomputed (debounced) after edits.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDockWidget, QHBoxLayout,
                               QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget)

from engine.errors import CandorError
from engine.volume import Volume
from viewer.qt.features._lesion_model import SORT_ROLE, LesionModel, compute_rows
from viewer.qt.jobs_bridge import outcome, submit_watched
from viewer.state.layers import HeatmapLayer

log = logging.getLogger(__name__)

ORDER = 80
NEEDS = ("model",)
MIN_ML = 0.01          # components under this volume are shown but marked
DEBOUNCE_MS = 300
EPISTEMIC_NAME = "Uncertainty (epistemic)"   # engine.trust.MAP_NAMES["epistemic"]
SALIENCY_PREFIX = "Saliency (Grad-CAM): "    # features/_ai_results.add_saliency_layer


def install(services) -> None:
    dock = LesionDock(services)
    services.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    services.window.menu("&View").addAction(dock.toggleViewAction())


def default_label(table) -> int | None:
    """The id of the class named "lesion" (any case), else the first class, else None."""
    infos = list(table or [])
    for info in infos:
        if info.name.strip().lower() == "lesion":
            return info.id
    return infos[0].id if infos else None


def run_maps(model, labels, label_name: str | None):
    """The epistemic map and the label's saliency map of the AI run that made ``labels``."""
    prov = labels.provenance
    if prov is None or not prov.has_model:
        return None, None
    epistemic = saliency = None
    for heat in model.layers.of_kind(HeatmapLayer):
        if heat.provenance != prov:
            continue
        if heat.name == EPISTEMIC_NAME:
            epistemic = heat.volume
        elif label_name is not None and heat.name == SALIENCY_PREFIX + label_name:
            saliency = heat.volume
    return epistemic, saliency


class LesionDock(QDockWidget):
    """The "Lesions" dock: label combo, sortable table, status line."""

    def __init__(self, services) -> None:
        super().__init__("Lesions", services.window)
        self.setObjectName("lesion_table")
        self.services, self.model = services, services.model
        self.layer = None
        self.job = None
        self.shown = None               # the job whose rows the table shows
        self.dirty = False
        body = QWidget(self)
        self.combo = QComboBox(body)
        self.combo.currentIndexChanged.connect(lambda _i: self.schedule())
        self.status = QLabel("No labels layer", body)
        self.status.setWordWrap(True)
        self.table_model = LesionModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.table_model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView(body)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.clicked.connect(self.go_to)
        self.view.activated.connect(self.go_to)
        top = QHBoxLayout()
        top.addWidget(QLabel("Label:", body))
        top.addWidget(self.combo, 1)
        layout = QVBoxLayout(body)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self.setWidget(body)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh)
        self.visibilityChanged.connect(lambda shown: shown and self.dirty and self.schedule())
        layers = self.model.layers.events
        for signal in (layers.active, layers.inserted, layers.removed):
            signal.connect(self._rebind)
        self.model.events.image.connect(self._rebind)
        services.window.about_to_close.connect(self._close)
        self._rebind()

    # Which layer and label ------------------------------------------------------------------
    def _rebind(self, *_args) -> None:
        layer = self.model.layers.active_labels
        if layer is not self.layer:
            if self.layer is not None:
                self.layer.events.data.disconnect(self.schedule)
                self.layer.events.style.disconnect(self._fill_combo)
            self.layer = layer
            if layer is not None:
                layer.events.data.connect(self.schedule)
                layer.events.style.connect(self._fill_combo)
            self._fill_combo()
        self.schedule()

    def _fill_combo(self) -> None:
        table = self.layer.table if self.layer is not None else None
        wanted = self.combo.currentData() if self.combo.count() else default_label(table)
        self.combo.blockSignals(True)
        self.combo.clear()
        for info in table or []:
            self.combo.addItem(f"{info.id}: {info.name}", info.id)
        at = self.combo.findData(wanted)
        self.combo.setCurrentIndex(at if at >= 0 else self.combo.findData(default_label(table)))
        self.combo.blockSignals(False)

    def label(self) -> int | None:
        return self.combo.currentData()

    # Computing ------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Recompute after a short quiet time (edits come in bursts)."""
        if self.isHidden():
            self.dirty = True
            return
        self.timer.start()

    def refresh(self):
        """Submit the computation for the current layer and label; returns the Job (or None)."""
        self.dirty = False
        layer, label = self.layer, self.label()
        if layer is None or label is None:
            self.job = self.shown = None
            self.table_model.set_rows([], MIN_ML)
            self.status.setText("No labels layer" if layer is None else "No label to list")
            return None
        info = layer.table.get(label) if layer.table is not None else None
        epistemic, saliency = run_maps(self.model, layer, info.name if info else None)
        src = layer.volume
        labels = Volume(src.array.copy(), src.geometry, src.modality)   # edits go on meanwhile
        self.status.setText("Computing…")
        watcher = submit_watched(self.services.jobs, compute_rows, labels, label, epistemic,
                                 saliency, MIN_ML, parent=self, name="lesion table",
                                 on_finished=self._finished)
        self.job = watcher.job
        return self.job

    def _finished(self, job) -> None:
        if job is not self.job:
            return                      # a newer computation is on its way
        self.shown = job
        rows, error = outcome(job)
        if error is not None:
            text = str(error) if isinstance(error, CandorError) else \
                f"internal error ({type(error).__name__}: {error})"
            log.warning("lesion table: %s", text)
            self.status.setText(f"Lesion table failed: {text}")
            return
        self.table_model.set_rows(rows, MIN_ML)
        small = sum(r.small for r in rows)
        maps = "with uncertainty" if rows and rows[0].uncertainty_mean is not None else "no uncertainty map"
        self.status.setText(f"{len(rows)} component(s), 26-connected; {small} under {MIN_ML:g} mL "
                            f"(grey); {maps}")

    def busy(self) -> bool:
        """A computation is due or running (the table may be out of date)."""
        return self.timer.isActive() or self.job is not self.shown

    def rows(self) -> list:
        """The lesions in the order shown."""
        return [self.table_model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
                for r in range(self.proxy.rowCount())]

    # Navigation -----------------------------------------------------------------------------
    def go_to(self, index) -> None:
        """Put the crosshair on the clicked component's centroid (every view follows it)."""
        if not index.isValid():
            return
        lesion = self.table_model.rows[self.proxy.mapToSource(index).row()]
        self.model.cursor.set_lps(lesion.centroid_lps)

    def _close(self) -> None:
        self.timer.stop()
        if self.job is not None:
            self.job.cancel()
