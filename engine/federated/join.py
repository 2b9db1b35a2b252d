"""Take part in a federation as a job: ``candor federated join`` in a child process.

Flower's client blocks until the federation ends and cannot be stopped from another thread, so the
viewer runs the same command the CLI does as a child process and ends it on Cancel (the site then
leaves the federation at that round; the server goes on with the others). Progress comes from the
site's ``status.json`` (:func:`engine.federated.site.status_path`), which the child rewrites after
every round it evaluates.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from engine.errors import Cancelled, InputError
from engine.jobs import report

log = logging.getLogger(__name__)

POLL_S = 0.3


def join_command(address: str, *extra: str) -> list[str]:
    """The ``candor federated join`` command line (the frozen app is ``candor`` itself)."""
    head = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "engine"]
    return [*head, "federated", "join", "--server", address, *extra]


def read_status() -> dict | None:
    """The site's last recorded participation (None before its first evaluated round)."""
    from engine.federated.site import status_path

    try:
        return json.loads(status_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _check_address(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"the federation's address must be HOST:PORT, not {address!r}")


def join(address: str, *, model: str | None = None, root_certificate: Path | None = None,
         progress=None, cancel=None) -> dict | None:
    """Join the federation at ``address`` until it ends; returns the site's status (or None)."""
    from engine.federated.site import status_path

    _check_address(address)
    extra = [*(["--model", model] if model else []),
             *(["--root-certificate", str(root_certificate)] if root_certificate else [])]
    folder = status_path().parent
    status_path().unlink(missing_ok=True)  # this federation's rounds only
    with open(folder / "join.log", "w", encoding="utf-8") as logfile:
        proc = subprocess.Popen(join_command(address, *extra), stdout=subprocess.DEVNULL, stderr=logfile)
        try:
            _wait(proc, progress, cancel)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    if proc.returncode != 0:
        raise InputError(f"the site could not take part in the federation at {address} "
                         f"(see {folder / 'join.log'})")
    return read_status()


def _wait(proc: subprocess.Popen, progress, cancel) -> None:
    seen = -1
    report(progress, cancel, 0.0, "waiting for the federation")
    while proc.poll() is None:
        if cancel is not None and cancel.cancelled:
            log.info("leaving the federation")
            raise Cancelled()
        status = read_status()
        last = (status or {}).get("last", {}).get("round", 0)
        if last != seen:
            seen = last
            # the site is not told how many rounds there will be: progress creeps towards 1
            report(progress, cancel, 1.0 - 1.0 / (last + 2), f"round {last} done" if last else "training")
        time.sleep(POLL_S)
