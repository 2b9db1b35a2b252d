"""Features installed on the main window: one module each, discovered here.

Each public module defines ``ORDER`` (an int; lower installs first) and ``install(window)`` which
adds its menus, docks and shortcuts through the window's public API (``window.menu("&AI")``,
``window.addDockWidget``…) and returns nothing. Features keep their own state on objects they
create; the main window knows none of them by name, so new capabilities never grow it.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger(__name__)


def feature_modules() -> list:
    """Every feature module; one that fails to import is logged and left out (the window still
    opens, without that feature)."""
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        try:
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
        except Exception:
            log.exception("feature %s could not be loaded; the window opens without it", info.name)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def install_all(window) -> None:
    for module in feature_modules():
        module.install(window)
