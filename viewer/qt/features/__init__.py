"""Features installed on the main window: one module each, discovered here.

Each public module defines ``ORDER`` (an int; lower installs first), ``NEEDS`` (the
:class:`viewer.qt.services.Services` fields it uses, provided by earlier features) and
``install(services)``, which adds its menus, docks and shortcuts through the window's public API
(``services.window.menu("&AI")``, ``addDockWidget``…) and registers in ``services`` what it offers
other features. Features keep their own state on objects they create; the main window knows none
of them by name and no feature sets or probes attributes on it.
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


def install(module, services) -> bool:
    """Install one feature if what it ``NEEDS`` is there (else log and skip it)."""
    missing = services.missing(tuple(getattr(module, "NEEDS", ())))
    if missing:
        log.warning("feature %s needs %s; not installed", module.__name__, ", ".join(missing))
        return False
    module.install(services)
    return True


def install_all(services) -> None:
    for module in feature_modules():
        install(module, services)
