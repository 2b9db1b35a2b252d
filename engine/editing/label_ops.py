"""Label-table edits: add, rename, recolour, remove. Tables are treated as values (new table out)."""

from __future__ import annotations

from engine.errors import InputError
from engine.labels import LabelInfo, LabelTable, default_color


def next_free_id(table: LabelTable, used: set[int] | None = None) -> int:
    taken = {l.id for l in table} | set(used or ())
    label_id = 1
    while label_id in taken:
        label_id += 1
    return label_id


def _check_name(table: LabelTable, name: str, except_id: int | None = None) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise InputError("a label needs a name")
    for info in table:
        if info.id != except_id and info.name.lower() == name.lower():
            raise InputError(f"there is already a label named {name!r}")
    return name


def add_label(table: LabelTable, name: str | None = None, color=None,
              label_id: int | None = None, used: set[int] | None = None) -> tuple[LabelTable, LabelInfo]:
    """A new table with one more label (next free id unless given; ``used`` ids are skipped too)."""
    label_id = next_free_id(table, used) if label_id is None else int(label_id)
    if label_id in table:
        raise InputError(f"label id {label_id} already exists ({table[label_id].name})")
    name = _check_name(table, name or f"Label {label_id}")
    info = LabelInfo(label_id, name, tuple(color) if color is not None else default_color(label_id))
    return LabelTable([*table, info]), info


def _replace(table: LabelTable, label_id: int, **changes) -> LabelTable:
    if label_id not in table:
        raise InputError(f"there is no label {label_id}")
    old = table[label_id]
    new = LabelInfo(label_id, changes.get("name", old.name), changes.get("color", old.color))
    return LabelTable([new if l.id == label_id else l for l in table])


def rename_label(table: LabelTable, label_id: int, name: str) -> LabelTable:
    return _replace(table, label_id, name=_check_name(table, name, except_id=label_id))


def recolour_label(table: LabelTable, label_id: int, color) -> LabelTable:
    return _replace(table, label_id, color=tuple(int(c) for c in color))


def remove_label(table: LabelTable, label_id: int) -> LabelTable:
    if label_id not in table:
        raise InputError(f"there is no label {label_id}")
    return LabelTable([l for l in table if l.id != label_id])
