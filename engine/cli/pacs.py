"""``candor pacs …``: talk to a PACS over DICOMweb or DIMSE (``engine.pacs``).

``echo SERVER``, ``find SERVER [filters] [--json]``, ``get SERVER STUDY_UID [SERIES_UID] --out DIR``,
``send SERVER FILE...``, ``servers add/list/remove`` and ``cache info/clear``. SERVER is a saved server's name or a
DICOMweb base URL. A password or token is never an argument: it comes from ``--password-stdin``,
``CANDOR_PACS_PASSWORD``, the OS keyring (``servers add --keyring``) or a prompt on a terminal.
``find`` shows patient names and IDs on the user's own screen (stdout); no log line or error does.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import logging
import sys
from pathlib import Path

from engine.errors import InputError

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("pacs", help="query, retrieve from and send to a PACS (DICOMweb or DIMSE)",
                       description="Work with a PACS: check the connection, search studies, "
                                   "retrieve a series or study into a folder, send DICOM SEG/SR "
                                   "files back, and keep a list of servers (no secrets in it).")
    cmds = p.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)
    _add_echo(cmds)
    _add_find(cmds)
    _add_get(cmds)
    _add_send(cmds)
    _add_servers(cmds)
    _add_cache(cmds)


def _add_cache(cmds) -> None:
    p = cmds.add_parser("cache", help="Candor's retrieval cache: its size, or clear it")
    p.add_argument("action", choices=("info", "clear"))
    p.set_defaults(func=run_cache)


def run_cache(args) -> int:
    from engine.pacs import cache

    root = cache.cache_root()
    if args.action == "clear":
        print(f"cleared the PACS cache: {cache.clear(root) / 1e6:.1f} MB freed")
        return 0
    folders = [f for f in root.glob("*/*") if f.is_dir()]
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    partial = sum(cache.is_partial(f) for f in folders)
    print(f"{root}: {len(folders)} retrieved series ({partial} partial), {size / 1e6:.1f} MB")
    return 0


def _server_args(p) -> None:
    p.add_argument("server", metavar="SERVER", help="a saved server's name or a DICOMweb base URL")
    p.add_argument("--user", help="user name (default: the profile's, or CANDOR_PACS_USER)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password or token from the first line of stdin")


def _add_echo(cmds) -> None:
    p = cmds.add_parser("echo", help="check that the server answers (C-ECHO or a QIDO-RS query)")
    _server_args(p)
    p.set_defaults(func=run_echo)


def _add_find(cmds) -> None:
    p = cmds.add_parser("find", help="search studies by patient, date, modality, accession")
    _server_args(p)
    p.add_argument("--patient-id", default="", metavar="ID")
    p.add_argument("--patient-name", default="", metavar="NAME", help="DICOM wildcards allowed: DOE^*")
    p.add_argument("--modality", default="", metavar="MOD", help="e.g. CT, MR")
    p.add_argument("--accession", default="", metavar="NUMBER")
    p.add_argument("--description", default="", metavar="TEXT", help="study description")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="studies on or after this date")
    p.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="studies on or before this date")
    p.add_argument("--series", action="store_true", help="also list each study's series")
    p.add_argument("--limit", type=int, default=200, metavar="N", help="at most N studies (200)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(func=run_find)


def _add_get(cmds) -> None:
    p = cmds.add_parser("get", help="retrieve a series (or a whole study) into a folder")
    _server_args(p)
    p.add_argument("study", metavar="STUDY_UID")
    p.add_argument("series", metavar="SERIES_UID", nargs="?", help="default: the whole study")
    p.add_argument("--out", metavar="DIR",
                   help="destination folder (default: Candor's cache, kept under "
                        "CANDOR_PACS_CACHE_GB, 20 GB); an interrupted retrieval into the same "
                        "folder resumes")
    p.set_defaults(func=run_get)


def _add_send(cmds) -> None:
    p = cmds.add_parser("send", help="send DICOM files (SEG, SR…) to the server")
    _server_args(p)
    p.add_argument("files", metavar="FILE", nargs="+")
    p.set_defaults(func=run_send)


def _add_servers(cmds) -> None:
    p = cmds.add_parser("servers", help="saved servers: add, list, remove")
    acts = p.add_subparsers(dest="servers_command", metavar="ACTION", required=True)
    add = acts.add_parser("add", help="save a server (its password is never written to a file)")
    add.add_argument("name", metavar="NAME")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="DICOMweb base URL, e.g. http://pacs:8042/dicom-web")
    where.add_argument("--dimse", metavar="AET@HOST:PORT", help="a DIMSE peer")
    add.add_argument("--calling-ae", default="CANDOR", metavar="AET",
                     help="Candor's own AE title, as the server knows it (default CANDOR)")
    add.add_argument("--auth", choices=("none", "basic", "bearer"),
                     help="DICOMweb authentication (default: basic with --user, else none)")
    add.add_argument("--user", default="")
    add.add_argument("--ca-bundle", default="", metavar="PEM", help="CA certificates for https")
    add.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds (30)")
    add.add_argument("--keyring", action="store_true",
                     help="store the password or token in the OS keyring (read from stdin or asked)")
    add.set_defaults(func=run_servers_add)
    lst = acts.add_parser("list", help="list saved servers")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_servers_list)
    rm = acts.add_parser("remove", help="forget a saved server (and its keyring entry)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=run_servers_remove)


def _date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError("give a date as YYYY-MM-DD") from None


# -- connecting ---------------------------------------------------------------------------------
def _read_secret(prompt_for: str, from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin was given but stdin held no password")
        return line
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {prompt_for}: ") or None
    return None


def client_for(args):
    """The connected client for ``args.server`` with its secret resolved."""
    from engine.pacs import connect, profiles

    profile = profiles.with_user(profiles.resolve(args.server), getattr(args, "user", None))
    given = _read_secret(profile.describe(), True) if args.password_stdin else None
    secret = profiles.secret_for(profile, given)
    if secret is None and profile.auth != "none":
        secret = _read_secret(profile.describe(), False)
    return connect(profile, secret)


# -- actions ------------------------------------------------------------------------------------
def run_echo(args) -> int:
    print(client_for(args).echo())
    return 0


def run_find(args) -> int:
    from engine.pacs import Query

    if args.since and args.until and args.since > args.until:
        raise InputError("--since is after --until")
    client = client_for(args)
    query = Query(patient_id=args.patient_id, patient_name=args.patient_name, modality=args.modality,
                  accession=args.accession, description=args.description, since=args.since,
                  until=args.until, limit=max(1, args.limit))
    studies = client.find_studies(query)
    series = {s.study_uid: client.find_series(s.study_uid) for s in studies} if args.series else {}
    if args.json:
        print(json.dumps({"server": client.name, "studies": [
            s.to_dict() | ({"series": [x.to_dict() for x in series[s.study_uid]]} if args.series else {})
            for s in studies]}, indent=2))
        return 0
    print(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}")
    for s in studies:
        print(f"{s.study_date or '-':<9} {s.patient_id or '-':<16} {s.patient_name or '-':<24} "
              f"{'/'.join(s.modalities) or '-':<8} {s.instance_count if s.instance_count is not None else '-':>6}  "
              f"{s.study_uid}  {s.description}")
        for x in series.get(s.study_uid, []):
            print(f"    {x.modality or '-':<4} #{x.series_number if x.series_number is not None else '-':<4} "
                  f"{x.instance_count if x.instance_count is not None else '-':>5}  {x.series_uid}  "
                  f"{x.description}")
    return 0


def run_get(args) -> int:
    from engine.pacs import cache

    client = client_for(args)
    dest = Path(args.out) if args.out else cache.series_folder(client.name, args.study, args.series)
    if dest.exists() and not dest.is_dir():
        raise InputError("--out names a file, not a folder")
    last = [-1.0]

    def progress(fraction: float, stage: str) -> None:
        if sys.stderr.isatty() and fraction - last[0] >= 0.05:
            last[0] = fraction
            print(f"\r{100 * fraction:3.0f}% {stage}", end="", file=sys.stderr, flush=True)

    result = client.retrieve(args.study, args.series, dest, progress=progress)
    if not args.out:
        pruned = cache.prune(keep=dest)
        if pruned:
            log.info("the PACS cache was over its limit: %d older series removed", len(pruned))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"retrieved {result.received} instance{'s' if result.received != 1 else ''}"
          f"{f' ({result.skipped} already there)' if result.skipped else ''} of {result.total} "
          f"into {dest}")
    return 0


def run_send(args) -> int:
    results = client_for(args).send([Path(f) for f in args.files])
    for r in results:
        print(f"sent      {r.path}" if r.ok else f"NOT SENT  {r.path}: {r.reason}")
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"error: {failed} of {len(results)} files were not stored; the others were",
              file=sys.stderr)
        return 1
    return 0


def run_servers_add(args) -> int:
    from engine.pacs import ServerProfile, profiles

    ae_title = host = ""
    port = 0
    if args.dimse:
        ae_title, host, port = profiles.parse_dimse(args.dimse)
    auth = args.auth or ("basic" if args.user else "none")
    if args.dimse and auth != "none":
        raise InputError("DIMSE servers take no password; --auth and --user are for DICOMweb")
    profile = ServerProfile(name=args.name, url=(args.url or "").rstrip("/"), ae_title=ae_title,
                            host=host, port=port, calling_ae=args.calling_ae, auth=auth,
                            user=args.user, ca_bundle=args.ca_bundle, timeout=args.timeout).validate()
    if args.keyring:
        if auth == "none":
            raise InputError("--keyring needs --auth basic or bearer (or --user)")
        secret = _read_secret(profile.describe(), not sys.stdin.isatty())
        if not secret:
            raise InputError("no password given to store in the keyring")
        profiles.store_secret(profile.name, secret)
    path = profiles.save(profile)
    print(f"saved {profile.describe()} in {path}")
    return 0


def run_servers_list(args) -> int:
    from dataclasses import asdict

    from engine.pacs import profiles

    saved = profiles.load_all()
    if args.json:
        print(json.dumps({"servers": [asdict(p) for p in saved.values()]}, indent=2))
        return 0
    if not saved:
        print("no saved servers (candor pacs servers add NAME --url URL | --dimse AET@HOST:PORT)")
    for p in saved.values():
        auth = p.auth if p.auth == "none" else f"{p.auth} as {p.user or '?'}"
        print(f"{p.name:<16} {p.transport:<8} {p.url or f'{p.ae_title}@{p.host}:{p.port} from {p.calling_ae}'}"
              f"  auth {auth}")
    return 0


def run_servers_remove(args) -> int:
    from engine.pacs import profiles

    profiles.remove(args.name)
    print(f"removed '{args.name}'")
    return 0
