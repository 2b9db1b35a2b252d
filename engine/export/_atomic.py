"""Write-then-rename: an export either lands whole under its final name or not at all.

Every exporter writes into a temporary name in the destination's own folder (so the final
``os.replace`` is an atomic rename on the same file system) and renames only once everything has
been written; the rename is :func:`engine.durable.replace_durably` (files flushed first, then the
folder), so a finished export also survives a power cut. On any error, cancellation included, the temporary files are removed: a reader or a
PACS watcher never sees a half-written segmentation.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from engine.durable import replace_durably
from engine.errors import InputError

log = logging.getLogger(__name__)


class AtomicOutputs:
    """A set of destination paths written through temporary siblings and committed together."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, final)

    def temp_for(self, final: str | Path) -> Path:
        """A temporary path beside ``final`` (same folder, same suffixes) to write into."""
        final = Path(final)
        if not final.parent.is_dir():
            raise InputError(f"the destination folder {final.parent.name!r} does not exist")
        suffix = "".join(final.suffixes) or ""
        stem = final.name[: len(final.name) - len(suffix)] if suffix else final.name
        temp = final.with_name(f".{stem}.partial-{uuid.uuid4().hex[:8]}{suffix}")
        self._pending.append((temp, final))
        return temp

    def commit(self) -> list[Path]:
        """Rename every temporary into place (replacing older files); return the final paths."""
        done = []
        for temp, final in self._pending:
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            replace_durably(temp, final)
            done.append(final)
        self._pending.clear()
        return done

    def discard(self) -> None:
        for temp, _ in self._pending:
            with contextlib.suppress(OSError):
                if temp.is_dir():
                    shutil.rmtree(temp)
                else:
                    temp.unlink()
        self._pending.clear()


@contextlib.contextmanager
def atomic_outputs() -> Iterator[AtomicOutputs]:
    """``with atomic_outputs() as out: p = out.temp_for(final); write(p)`` — renamed on success."""
    outputs = AtomicOutputs()
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
