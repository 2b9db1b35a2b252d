"""The reading experience: the ViewerModel, slice/3D views, study opening, layers and messages.

Installs first (``ORDER = 10``) so later features find ``window.model`` (a
:class:`viewer.state.ViewerModel`), ``window.viewer`` (the central views) and ``window.messages``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from viewer.qt.cursor_readout import CursorReadout
from viewer.qt.layers_panel import LayersPanel
from viewer.qt.messages import MessagesPanel
from viewer.qt.study_opener import StudyOpener
from viewer.qt.viewer_widget import ViewerWidget
from viewer.state.viewer_model import ViewerModel

ORDER = 10


def install(window) -> None:
    model = ViewerModel()
    window.model = model
    window.viewer = ViewerWidget(model)
    window.central.addWidget(window.viewer)
    model.events.image.connect(
        lambda layer: window.central.setCurrentWidget(window.viewer if layer is not None
                                                      else window.placeholder))
    window.messages = MessagesPanel(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, window.messages)
    window.messages.hide()
    window.layers_panel = LayersPanel(model, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.layers_panel)
    window.opener = StudyOpener(window, model, window.messages)
    window.open_requested.connect(window.opener.open)
    # Keys work at once after opening: the axial view takes the keyboard focus.
    window.opener.opened.connect(lambda _v: window.viewer.views["axial"].canvas.setFocus())
    readout = CursorReadout(model)
    window.statusBar().addPermanentWidget(readout, 1)
    window.cursor_readout = readout
    for view in window.viewer.views.values():
        view.hovered.connect(readout.show_voxel)
    window.about_to_close.connect(window.viewer.cleanup)
