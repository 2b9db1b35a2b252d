"""DICOMDIR: the index file of a CD/DVD export. Its file references are never trusted blindly.

Every ReferencedFileID is resolved inside the DICOMDIR's own folder: absolute paths, ``..``
components and symbolic links leading outside are refused (listed as skipped). CDs often store
upper-case IDs while the copied files are lower case, so names are matched case-insensitively.
Files the index does not list are still found: the folder itself is scanned as well.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from engine.errors import CandorError
from engine.io import dicomlib
from engine.io.guard import boundary
from engine.io.model import Skipped

log = logging.getLogger(__name__)


def is_dicomdir(path: Path) -> bool:
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fp:
            head = fp.read(132 + 256)
    except OSError:
        return False
    return head[128:132] == b"DICM" and b"1.2.840.10008.1.3.10" in head


def dicomdir_files(path: Path, skipped: list[Skipped]) -> list[Path]:
    """Files the DICOMDIR lists that really lie under its folder, plus the folder's other files."""
    root = path.parent.resolve()
    listed: list[Path] = []
    try:
        with boundary("the DICOMDIR index"):  # pydicom raises lazily, while records are read too
            ds = dicomlib.pydicom().dcmread(path, force=True, defer_size=1 << 20)  # no huge reads
            refs = [_parts(rec.get("ReferencedFileID")) for rec in
                    ds.get("DirectoryRecordSequence", []) or []]
    except CandorError as exc:  # damaged index: fall back to scanning the folder
        skipped.append(Skipped(str(path), f"{exc}; the folder was scanned instead"))
        refs = []
    for parts in refs:
        if not parts:
            continue
        target = _safe_target(root, parts)
        if target is None:
            skipped.append(Skipped("/".join(parts), "DICOMDIR entry points outside its folder"))
        elif not target.is_file():
            skipped.append(Skipped(str(root.joinpath(*parts)), "listed in DICOMDIR but missing"))
        else:
            listed.append(target)
    return _with_unlisted(root, path, listed)


def _parts(ref) -> list[str]:
    if not ref:
        return []
    many = isinstance(ref, (list, dicomlib.pydicom().multival.MultiValue))
    return [str(p) for p in (ref if many else [ref])]


def _safe_target(root: Path, parts: list[str]) -> Path | None:
    if not parts or any(p in ("", ".", "..") or "/" in p or "\\" in p or ":" in p for p in parts):
        return None
    candidate = _case_insensitive(root, parts)
    try:
        resolved = candidate.resolve()
    except OSError:
        return None
    if resolved != root and root not in resolved.parents:
        return None
    return resolved


def _case_insensitive(root: Path, parts: list[str]) -> Path:
    current = root
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        try:
            names = {n.upper(): n for n in os.listdir(current)}
        except OSError:
            return exact
        current = current / names.get(part.upper(), part)
    return current


def _with_unlisted(root: Path, index: Path, listed: list[Path]) -> list[Path]:
    seen = {p for p in listed}
    out = list(listed)
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = Path(folder, name).resolve()
            if p in seen or name.upper() == "DICOMDIR" or name.startswith("."):
                continue
            if root not in p.parents:  # a link leading out of the folder
                continue
            seen.add(p)
            out.append(p)
    return out
