"""Folder scan: find files, read their headers in parallel, group them (see :mod:`grouping`)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.errors import CandorError, InputError
from engine.io.dicomdir import dicomdir_files, is_dicomdir
from engine.io.grouping import group
from engine.io.headers import SliceHeader, read_header
from engine.io.model import ScanResult, Skipped
from engine.jobs import CancelToken, ProgressCallback, report

log = logging.getLogger(__name__)

MAX_FILES = 200_000
_CHUNK = 64


_SERIAL_PROBE = 16  # files read in the calling thread before deciding on threads
_SLOW_FILE_S = 0.0005  # a header takes ~0.06 ms from the page cache; much slower means I/O waits


def workers() -> int:
    """Threads for header reads. Parsing holds the GIL, so threads only overlap file I/O; on a
    warm cache 1–8 threads are within noise of each other and process pools lose to their start-up
    cost (bench/bench_load.py --scan-variants; docs/PERFORMANCE.md). Four threads hide the
    latency of cold disks and network shares without contention."""
    return 4


def scan(path: str | os.PathLike, *, progress: ProgressCallback | None = None,
         cancel: CancelToken | None = None) -> ScanResult:
    """Scan a folder (recursively), a DICOMDIR or a single DICOM file; headers only."""
    root = Path(path)
    if not root.exists():
        raise InputError("the file or folder does not exist")
    report(progress, cancel, 0.0, "finding files")
    skipped: list[Skipped] = []
    if root.is_dir():
        files = list(_walk(root, skipped, cancel))
        base = root
    elif not root.is_file():
        raise InputError("this is neither a folder nor a regular file")
    elif is_dicomdir(root):
        files = dicomdir_files(root, skipped)
        base = root.parent
    else:
        files, base = [root], root.parent
    headers = read_headers(files, skipped, progress=progress, cancel=cancel)
    result = group(headers, str(base), skipped)
    log.info("scan: %d files, %d stacks, %d skipped", len(files), len(result.series),
             len(result.skipped))
    report(progress, cancel, 1.0, "done")
    return result


def _walk(root: Path, skipped: list[Skipped], cancel: CancelToken | None) -> Iterable[Path]:
    """Every regular file under ``root``; symlinked folders are not followed (no loops)."""
    count = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        report(None, cancel, 0.0)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(str(folder), f"folder cannot be read ({exc.strerror})"))
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    if entry.name.upper() == "DICOMDIR" or entry.name.startswith("."):
                        continue  # the index itself; hidden files (.DS_Store…)
                    count += 1
                    if count > MAX_FILES:
                        raise InputError(f"more than {MAX_FILES} files in this folder; "
                                         "choose a smaller folder")
                    yield Path(entry.path)
            except OSError as exc:
                skipped.append(Skipped(entry.path, f"cannot be read ({exc.strerror})"))


def read_headers(files: list[Path], skipped: list[Skipped], *,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, threads: int | None = None) -> list[SliceHeader]:
    """Headers of ``files`` (threads, in chunks so that cancel stops within a chunk)."""
    headers: list[SliceHeader] = []
    total = max(len(files), 1)

    def keep(batch: list[Path], outcomes: Iterable[SliceHeader | str], start: int) -> None:
        for path, outcome in zip(batch, outcomes):
            if isinstance(outcome, SliceHeader):
                headers.append(outcome)
            else:
                skipped.append(Skipped(str(path), outcome))
        report(progress, cancel, 0.95 * min(1.0, (start + len(batch)) / total),
               f"reading headers ({start + len(batch)}/{len(files)})")

    # From the page cache one thread is fastest (threads only add GIL hand-offs: 12.6 ms serial
    # vs 22.5 ms with four threads for 200 files); a slow first few files mean a cold disk or a
    # network share, where threads overlap the waits.
    probe = files[:_SERIAL_PROBE]
    began = time.perf_counter()
    keep(probe, [_safe_header(p) for p in probe], 0)
    rest = files[len(probe):]
    if not rest:
        return headers
    if threads is None and (time.perf_counter() - began) / len(probe) < _SLOW_FILE_S:
        threads = 1
    threads = threads or workers()
    if threads == 1:
        for start in range(0, len(rest), _CHUNK):
            batch = rest[start:start + _CHUNK]
            keep(batch, [_safe_header(p) for p in batch], len(probe) + start)
        return headers
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="candor-scan") as pool:
        for start in range(0, len(rest), _CHUNK * threads):
            batch = rest[start:start + _CHUNK * threads]
            keep(batch, pool.map(_safe_header, batch), len(probe) + start)
    return headers


def _safe_header(path: Path) -> SliceHeader | str:
    try:
        return read_header(path)
    except CandorError as exc:  # SkipFile, and whatever else the header reader refuses
        return str(exc)
