"""What ``MASK`` names on the command line: a label file, or a correction in the queue."""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.labels import LabelTable
from engine.volume import Volume


def load_mask(spec: str, *, float_map: bool = False) -> tuple[Volume, LabelTable]:
    """The mask volume and its label table from a file path or a queued correction id."""
    path = Path(spec)
    if path.exists():
        if float_map:
            from engine.io import load

            return load(path), LabelTable()
        from engine.export import read_label_file

        return read_label_file(path)
    return _from_queue(spec)


def _from_queue(correction_id: str) -> tuple[Volume, LabelTable]:
    try:
        from engine.corrections import queue_mask  # published by the corrections package
    except ImportError:
        raise InputError(f"{correction_id!r} is not a file, and the correction queue is not "
                         "available in this version to look it up") from None
    return queue_mask(correction_id)
