"""The queue's SQLite database: durable settings, schema, and an integrity check on open."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from engine.errors import CandorError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    study TEXT,
    series TEXT,
    modality TEXT NOT NULL,
    geometry TEXT NOT NULL,
    image TEXT NOT NULL,
    ai TEXT NOT NULL,
    corrected TEXT NOT NULL,
    labels TEXT NOT NULL,
    model_name TEXT,
    model_version TEXT,
    weights_hash TEXT,
    stats TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    item_id TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    item_id TEXT NOT NULL,
    time TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS usage_item ON usage (item_id);
CREATE INDEX IF NOT EXISTS events_item ON events (item_id);
"""


class QueueDatabaseError(CandorError):
    """The correction queue's database is damaged or unusable."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the queue database: WAL, synchronous=FULL, checked integrity."""
    try:
        conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False,
                               isolation_level=None)  # explicit BEGIN/COMMIT below
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        result = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise QueueDatabaseError(
            f"the correction queue database cannot be opened ({exc}); move {path.name} aside "
            "to start a new queue") from None
    if [r[0] for r in result] != ["ok"]:
        conn.close()
        raise QueueDatabaseError(
            f"the correction queue database failed its integrity check; move {path.name} aside "
            "to start a new queue (the image files under objects/ are kept)")
    conn.executescript(SCHEMA)
    version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if version is None:
        conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    elif int(version[0]) > SCHEMA_VERSION:
        conn.close()
        raise QueueDatabaseError("the correction queue was written by a newer Candor; update Candor")
    return conn
