"""Decode the compressed slices of a long series on every core, in worker processes.

pydicom's JPEG 2000, JPEG-LS and JPEG decoders (pylibjpeg-openjpeg, pyjpegls, pylibjpeg-libjpeg)
hold the GIL while they decode, so threads do not overlap them: 24 JPEG 2000 slices of 512²
took 0.64 s serially and 0.65 s on two threads here (docs/PERFORMANCE.md). When the first slice
says the rest will take more than :data:`WORTH_S` in one process, the rest is decoded by a pool
of spawned processes, one per core. Each worker runs the loader's own guarded decode
(:func:`engine.io.pixels.decode_slice`: the codestream checked against the header first, the
decoder behind :class:`engine.io.guard.boundary`, a missing decoder named) and sends back the
decoded pixels and any warning; placing them in the volume (rescale, MONOCHROME1, dtype) stays
in the loader, so the result is bit for bit the in-process one. Results are taken in slice order,
so the first damaged slice is the one reported, as in one process.

Spawn, not fork: fork is unsafe in the threaded viewer. A spawned worker imports the parent's
main script again (as ``__mp_main__``), so the pool is used only where that is known to be
harmless (:func:`main_is_safe`): the ``candor`` commands and the frozen app (which calls
``multiprocessing.freeze_support()``), ``python -m …``, ``python -c``, notebooks. A plain
script, which may lack an ``if __name__ == "__main__"`` guard, decodes in threads as before.
A worker that dies (a decoder crashing the process) is reported as damaged data; a pool that
cannot start at all leaves the work to the threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from engine.io.guard import DamagedData
from engine.io.headers import SliceHeader
from engine.jobs import CancelToken, ProgressCallback, report

log = logging.getLogger(__name__)

WORTH_S = 1.0  # estimated single-process decode time above which worker processes pay off
_IN_FLIGHT = 4  # slices queued per worker: bounded memory for results not yet placed


def processes_pay_off(first_slice_s: float, remaining: int) -> bool:
    """Whether worker processes (~0.5 s to start) beat decoding ``remaining`` slices here."""
    return ((os.cpu_count() or 1) > 1 and remaining > 1 and first_slice_s * remaining > WORTH_S
            and main_is_safe())


def main_is_safe() -> bool:
    """Whether a spawned worker may import this process's main module without side effects."""
    if getattr(sys, "frozen", False):
        return True  # the frozen entry point calls multiprocessing.freeze_support()
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None:  # python -m: spawn skips a package's __main__, imports other modules
        return name == "__main__" or name.endswith(".__main__")
    path = getattr(main, "__file__", None)
    if path is None:
        return True  # python -c, an interactive session, a notebook: nothing is re-imported
    return os.path.basename(path).lower().startswith("candor")  # the console scripts (guarded)


def _decode_remote(h: SliceHeader, where: str):
    from engine.io.pixels import decode_slice

    before = len(h.warnings)
    pixels = decode_slice(h, where)
    return pixels, h.warnings[before:]


def decode_in_processes(filler, headers: list[SliceHeader], ks: list[int], *,
                        progress: ProgressCallback | None, cancel: CancelToken | None,
                        done: int, total: int) -> bool:
    """Decode slices ``ks`` in worker processes into ``filler``; False if no pool could start."""
    workers = min(os.cpu_count() or 1, len(ks))
    try:
        pool = ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context("spawn"))
    except (OSError, ValueError, NotImplementedError) as exc:
        log.info("no decoder processes (%s); decoding in threads", type(exc).__name__)
        return False
    with pool:
        pending: list[tuple[int, Future]] = []
        queue = iter(ks)
        try:
            for k in queue:
                pending.append((k, pool.submit(_decode_remote, headers[k], filler.where(k))))
                if len(pending) >= workers * _IN_FLIGHT:
                    done = _place_first(filler, headers, pending, progress, cancel, done, total)
            while pending:
                done = _place_first(filler, headers, pending, progress, cancel, done, total)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return True


def _place_first(filler, headers, pending, progress, cancel, done: int, total: int) -> int:
    k, future = pending.pop(0)
    try:
        pixels, notes = future.result()
    except BrokenProcessPool:
        raise DamagedData(f"the compressed pixel data of {filler.where(k)} (or a slice decoded "
                          "at the same time) crashed its decoder") from None
    for note in notes:
        if note not in headers[k].warnings:
            headers[k].warnings.append(note)
    filler.place_decoded(k, pixels)
    done += 1
    report(progress, cancel, done / total, f"decoding pixels ({done}/{total})")
    return done
