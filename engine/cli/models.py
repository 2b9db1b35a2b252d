"""``candor models list [--json]`` and ``candor models show NAME``: the installed model packages."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list or describe the AI model packages Candor can use",
                       description="Model packages are found in Candor's bundled resources and in the "
                                   "user's models folder.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    ls = msub.add_parser("list", help="list models with version and lineage")
    ls.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    ls.set_defaults(func=run_list)
    use = msub.add_parser("use", help="make a version the active one (e.g. roll back a fine-tune)")
    use.add_argument("model", metavar="NAME@VERSION")
    use.set_defaults(func=run_use)
    show = msub.add_parser("show", help="print a model's manifest (JSON)")
    show.add_argument("model", metavar="NAME|DIR")
    show.set_defaults(func=run_show)
    imp = msub.add_parser("import", help="convert a third-party model (nnU-Net results folder, deepbet) "
                                         "into a Candor package in the user models folder")
    imp.add_argument("source", metavar="SOURCE",
                     help="a model folder or file, or the word 'deepbet' (the installed package's weights)")
    imp.add_argument("--name", help="package name (default: the importer's)")
    imp.add_argument("--allow-torchscript", action="store_true",
                     help="allow reading a TorchScript archive (a program) once, to copy its tensors")
    imp.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    imp.set_defaults(func=run_import)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_list(args: argparse.Namespace) -> int:
    from engine.models import find_model, list_models
    from engine.resources import user_subdir

    models = list_models()
    active = {m.name: find_model(m.name).version for m in models}
    if args.json:
        json.dump([{**m.to_dict(), "parent": m.parent_version, "active": active[m.name] == m.version}
                   for m in models], sys.stdout, indent=2)
        print()
        return 0
    if not models:
        print(f"no models found (user models go in {user_subdir('models')})", file=sys.stderr)
        return 0
    width = max(len(m.name) for m in models)
    for m in models:
        lineage = f"from {m.parent_version}" if m.parent_version else "original"
        members = f"{m.members} members" if m.members > 1 else "1 member"
        mark = "*" if active[m.name] == m.version else " "
        print(f"{mark} {m.name:<{width}}  {m.version:<8}  {lineage:<14}  {m.source:<7}  {m.modality:<3}  {members}  {m.task}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.models import find_model, load_manifest

    path = Path(args.model)
    folder = path if path.is_dir() else find_model(args.model).path
    json.dump(load_manifest(folder / "manifest.json").to_dict(), sys.stdout, indent=2)
    print()
    return 0


def run_use(args: argparse.Namespace) -> int:
    from engine.models.store import set_active
    from engine.errors import InputError

    name, sep, version = args.model.partition("@")
    if not sep or not name or not version:
        raise InputError(f"give the model as NAME@VERSION, got {args.model!r}")
    set_active(name, version)
    print(f"{name}@{version} is now the active version of {name}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.models import load_manifest
    from engine.models.importers import import_model
    from engine.resources import user_subdir

    folder = import_model(Path(args.source), user_subdir("models"), name=args.name,
                          allow_torchscript=args.allow_torchscript)
    manifest = load_manifest(folder / "manifest.json")
    if args.json:
        json.dump({"name": manifest.name, "version": manifest.version, "task": manifest.task,
                   "path": str(folder)}, sys.stdout, indent=2)
        print()
    else:
        print(f"imported {manifest.name}@{manifest.version} ({manifest.task}) into {folder}", file=sys.stderr)
    return 0
