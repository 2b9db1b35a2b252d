"""Which version of each model is active (the one ``NAME`` means), and new version numbers.

Stored as ``active.json`` in the user's models folder. Fine-tuning makes an accepted version
active; ``candor models use NAME@VERSION`` switches back (every version stays installed). This
module only reads and writes the record; :func:`engine.models.store.set_active` checks that the
version is installed before writing it, and :func:`engine.models.discovery.find_model` reads it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from engine.durable import atomic_write_json
from engine.resources import user_subdir

log = logging.getLogger(__name__)

ACTIVE_FILE = "active.json"


def _record() -> Path:
    return user_subdir("models") / ACTIVE_FILE


def read_active() -> dict[str, str]:
    """``{name: version}`` as recorded; an unreadable record counts as empty (latest versions)."""
    try:
        data = json.loads(_record().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("the active-model file is unreadable; using the latest versions")
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def active_version(name: str) -> str | None:
    """The recorded active version of ``name`` (``None``: none recorded, the latest is used)."""
    return read_active().get(name)


def write_active(name: str, version: str) -> None:
    """Record ``name@version`` as active (durably); callers check it is installed."""
    active = read_active()
    active[name] = version
    atomic_write_json(_record(), active)
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
