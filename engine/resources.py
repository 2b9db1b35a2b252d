"""Where Candor's shipped resources (models, template, icons, presets) and user data live.

One function locates shipped resources for every way Candor runs: from a source checkout, from an
editable install, and from the frozen application built by ``installer/`` (PyInstaller puts them
under ``sys._MEIPASS``). ``CANDOR_RESOURCES`` overrides the location.

User data (models the user adds or fine-tunes, the correction queue, autosaves, settings) lives in
the platform's user data folder (platformdirs), or under ``CANDOR_HOME`` when that is set (tests and
portable installs use it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.errors import CandorError

APP_NAME = "Candor"


def resources_dir() -> Path:
    """The folder holding Candor's shipped resources."""
    candidates: list[Path] = []
    if os.environ.get("CANDOR_RESOURCES"):
        candidates.append(Path(os.environ["CANDOR_RESOURCES"]))
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.append(Path(frozen_root) / "resources")
    candidates.append(Path(__file__).resolve().parent.parent / "resources")
    candidates.append(Path(sys.prefix) / "share" / "candor" / "resources")
    for path in candidates:
        if path.is_dir():
            return path
    raise CandorError(
        "Candor's resources folder was not found (looked in: "
        + ", ".join(str(p) for p in candidates)
        + "); reinstall Candor or set CANDOR_RESOURCES"
    )


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource, e.g. ``resource_path("models", "candor-brain-t1")``."""
    return resources_dir().joinpath(*parts)


def user_data_dir() -> Path:
    """Candor's per-user data folder (created on first use)."""
    home = os.environ.get("CANDOR_HOME")
    if home:
        path = Path(home)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_subdir(name: str) -> Path:
    """A named folder under the user data folder (``models``, ``queue``, ``autosave``…)."""
    path = user_data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
