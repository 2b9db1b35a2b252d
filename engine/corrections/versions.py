"""Which version of each model is active (the one ``NAME`` means), and new version numbers.

Stored as ``active.json`` in the user's models folder. Fine-tuning makes an accepted version
active; ``candor models use NAME@VERSION`` switches back (every version stays installed).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from engine.editing.durable import atomic_write_json
from engine.errors import ModelError

log = logging.getLogger(__name__)

ACTIVE_FILE = "active.json"


def _store() -> Path:
    from engine.resources import user_subdir

    return user_subdir("models") / ACTIVE_FILE


def read_active() -> dict[str, str]:
    try:
        data = json.loads(_store().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("the active-model file is unreadable; using the latest versions")
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def active_version(name: str) -> str | None:
    return read_active().get(name)


def set_active(name: str, version: str) -> None:
    """Make ``name@version`` the active version (it must be installed)."""
    from engine.models.discovery import list_models

    if not any(m.name == name and m.version == version for m in list_models()):
        raise ModelError(f"{name}@{version} is not installed")
    active = read_active()
    active[name] = version
    atomic_write_json(_store(), active)
    log.info("active model: %s@%s", name, version)


def next_version(version: str, taken: set[str]) -> str:
    """The next free version after ``version``: its last number plus one (``1.0.0`` → ``1.0.1``)."""
    parts = re.split(r"(\d+)(?!.*\d)", version, maxsplit=1)
    if len(parts) < 3:
        base, number, rest = version + ".", "0", ""
    else:
        base, number, rest = parts[0], parts[1], parts[2]
    n = int(number) + 1
    while f"{base}{n}{rest}" in taken:
        n += 1
    return f"{base}{n}{rest}"
