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
    show = msub.add_parser("show", help="print a model's manifest (JSON)")
    show.add_argument("model", metavar="NAME|DIR")
    show.set_defaults(func=run_show)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_list(args: argparse.Namespace) -> int:
    from engine.models import list_models
    from engine.resources import user_subdir

    models = list_models()
    if args.json:
        json.dump([m.to_dict() for m in models], sys.stdout, indent=2)
        print()
        return 0
    if not models:
        print(f"no models found (user models go in {user_subdir('models')})", file=sys.stderr)
        return 0
    width = max(len(m.name) for m in models)
    for m in models:
        lineage = f"from {m.parent_version}" if m.parent_version else "original"
        members = f"{m.members} members" if m.members > 1 else "1 member"
        print(f"{m.name:<{width}}  {m.version:<8}  {lineage:<14}  {m.source:<7}  {m.modality:<3}  {members}  {m.task}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.models import find_model, load_manifest

    path = Path(args.model)
    folder = path if path.is_dir() else find_model(args.model).path
    json.dump(load_manifest(folder / "manifest.json").to_dict(), sys.stdout, indent=2)
    print()
    return 0
