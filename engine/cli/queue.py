"""``candor queue``: add, list, show, remove and export corrections in the local queue."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("queue", help="the local queue of corrected AI masks (for fine-tuning)",
                       description="Store, inspect and remove corrections of AI masks. Images are "
                                   "kept de-identified; nothing names the patient.")
    qs = p.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    add = qs.add_parser("add", help="queue a correction; prints its id")
    add.add_argument("path", help="the scan the masks were drawn on (DICOM folder or image file)")
    add.add_argument("--series", metavar="UID", help="series to use when the folder holds several")
    add.add_argument("--ai", required=True, metavar="AI_MASK", help="the AI's label map")
    add.add_argument("--corrected", required=True, metavar="CORRECTED_MASK",
                     help="the corrected label map")
    add.add_argument("--model", metavar="NAME@VERSION", help="the model that produced the AI mask")
    add.add_argument("--json", action="store_true", help="print the new item as JSON")
    add.set_defaults(func=_add)

    lst = qs.add_parser("list", help="list queued corrections")
    lst.add_argument("--json", action="store_true", help="print a JSON list")
    lst.set_defaults(func=_list)

    show = qs.add_parser("show", help="print one correction (JSON) with its history")
    show.add_argument("id")
    show.set_defaults(func=_show)

    rm = qs.add_parser("remove", help="delete one correction and its files")
    rm.add_argument("id")
    rm.set_defaults(func=_remove)

    exp = qs.add_parser("export", help="write one correction's NIfTI files and JSON to a folder")
    exp.add_argument("id")
    exp.add_argument("--out", metavar="FOLDER", help="target folder (default: ./correction-ID)")
    exp.set_defaults(func=_export)


def _queue():
    from engine.corrections import CorrectionQueue

    return CorrectionQueue()


def _add(args: argparse.Namespace) -> int:
    from engine import io
    from engine.corrections.queue import resolve_model
    from engine.labels import LabelTable

    image = io.load(args.path, args.series)
    ai, corrected = io.load(args.ai), io.load(args.corrected)
    table = _table_of(ai) or _table_of(corrected) or LabelTable()
    model = resolve_model(args.model) if args.model else None
    if model is not None and not len(table):
        table = _model_labels(model) or table
    with _queue() as q:
        item = q.add(image, ai, corrected, table, model)
    if args.json:
        print(json.dumps(item.to_dict(), indent=1))
    else:
        print(item.id)
    return 0


def _table_of(volume):
    from engine.labels import LabelTable

    labels = volume.metadata.get("labels")
    try:
        return LabelTable.from_list(labels) if labels else None
    except InputError:
        return None


def _model_labels(model):
    try:
        from engine.models.discovery import find_model
        from engine.models.manifest import load_manifest

        return load_manifest(find_model(str(model)).path / "manifest.json").labels
    except Exception:  # labels are a convenience here; the queue works without them
        return None


def _list(args: argparse.Namespace) -> int:
    with _queue() as q:
        items = q.items()
    if args.json:
        print(json.dumps([i.to_dict() for i in items], indent=1))
        return 0
    if not items:
        print("the correction queue is empty", file=sys.stderr)
        return 0
    print(f"{'ID':<12}{'QUEUED (UTC)':<27}{'MODEL':<28}{'CHANGED':>9}{'DICE':>8}  STATUS")
    for i in items:
        model = f"{i.model['name']}@{i.model['version']}" if i.model else "-"
        print(f"{i.id:<12}{i.created:<27}{model:<28}{i.stats['voxels_changed']:>9}"
              f"{i.stats['dice_foreground']:>8.3f}  {i.status}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with _queue() as q:
        item = q.get(args.id)
        print(json.dumps({**item.to_dict(), "history": q.history(item.id)}, indent=1))
    return 0


def _remove(args: argparse.Namespace) -> int:
    with _queue() as q:
        item = q.get(args.id)
        q.remove(item.id)
    print(f"removed {item.id}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    with _queue() as q:
        item = q.get(args.id)
        folder = Path(args.out or f"correction-{item.id}")
        files = q.export(item.id, folder)
    for path in files:
        print(path)
    return 0
