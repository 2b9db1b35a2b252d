"""The reading experience: the ViewerModel, slice/3D views, study opening, layers and messages.

Installs first (``ORDER = 10``) and provides ``services.model`` (a
:class:`viewer.state.ViewerModel`), ``services.viewer`` (the central views), ``services.messages``,
``services.layers_panel``, ``services.opener`` and ``services.cursor_readout``.
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
NEEDS: tuple[str, ...] = ()


def install(services) -> None:
    window = services.window
    model = ViewerModel()
    viewer = ViewerWidget(model)
    services.model, services.viewer = model, viewer
    window.central.addWidget(viewer)
    model.events.image.connect(
        lambda layer: window.central.setCurrentWidget(viewer if layer is not None
                                                      else window.placeholder))
    messages = services.messages = MessagesPanel(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, messages)
    messages.hide()
    # Viewer-state notes (e.g. a header window replaced by MR auto) are said in the Messages dock.
    model.window.events.note.connect(lambda text: messages.add(text, "info"))
    services.layers_panel = LayersPanel(model, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, services.layers_panel)
    opener = services.opener = StudyOpener(window, model, messages)
    window.open_requested.connect(opener.open)
    # Keys work at once after opening: the axial view takes the keyboard focus.
    opener.opened.connect(lambda _v: viewer.views["axial"].canvas.setFocus())
    readout = services.cursor_readout = CursorReadout(model)
    window.statusBar().addPermanentWidget(readout, 1)
    for view in viewer.views.values():
        view.hovered.connect(readout.show_voxel)
    window.about_to_close.connect(viewer.cleanup)
