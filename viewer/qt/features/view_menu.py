"""View menu: layouts (1×3, 2×2 with 3D, single), window/level presets, reset, panels."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from viewer.state.window import PRESETS

ORDER = 20

LAYOUT_ACTIONS = (("1x3", "&1 × 3 (axial, coronal, sagittal)", "Ctrl+1"),
                  ("2x2", "&2 × 2 with 3D", "Ctrl+2"),
                  ("single", "&Single view (maximised)", "Ctrl+3"))


NEEDS = ("model", "layers_panel", "messages")


def install(services) -> None:
    window, model = services.window, services.model
    menu = window.menu("&View")
    group = QActionGroup(window)
    layout_actions = services.layout_actions
    for name, text, key in LAYOUT_ACTIONS:
        action = QAction(text, window, checkable=True)
        action.setShortcut(QKeySequence(key))
        action.setChecked(model.layout == name)
        action.triggered.connect(lambda _=False, n=name: setattr(model, "layout", n))
        group.addAction(action)
        menu.addAction(action)
        layout_actions[name] = action
    model.events.layout.connect(lambda n: layout_actions[n].setChecked(True))
    focus = menu.addMenu("Maximised &view")
    for view in ("axial", "coronal", "sagittal", "3d"):
        action = focus.addAction(view.capitalize() if view != "3d" else "3D")
        action.triggered.connect(lambda _=False, v=view: (setattr(model, "focused", v),
                                                          setattr(model, "layout", "single")))
    menu.addSeparator()
    presets = menu.addMenu("&Window/level")
    for p in PRESETS:
        label = f"{p.name}" + (f"\t{p.key}" if p.key else "")
        action = presets.addAction(label)
        action.triggered.connect(lambda _=False, n=p.name: model.image and model.apply_preset(n))
    reset = QAction("&Reset views", window)
    reset.setShortcut(QKeySequence("Ctrl+Home"))
    reset.triggered.connect(model.reset)
    menu.addAction(reset)
    menu.addSeparator()
    menu.addAction(services.layers_panel.toggleViewAction())
    menu.addAction(services.messages.toggleViewAction())
