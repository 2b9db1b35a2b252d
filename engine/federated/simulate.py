"""``candor federated simulate``: N generated sites on this machine, as real Flower processes.

The server runs in this process (Flower's server needs the main thread); every site is a
separate ``candor federated join`` process on loopback with its own Candor home (model store and
correction queue), so nothing but Flower's messages passes between them — as between hospitals.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import tempfile
from pathlib import Path

from engine.federated import join, sitedata
from engine.federated.server import ServerSettings, run_server

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_command(address: str, *extra: str) -> list[str]:
    """``candor federated join`` for a generated site's model."""
    return join.join_command(address, "--model", sitedata.NAME, *extra)


def prepare_sites(root: Path, sites: int, corrections: int, base_epochs: int = 10) -> list[Path]:
    """Train the base model once and make ``sites`` Candor homes under ``root``.

    A base package already in ``root/base`` (an earlier run with the same ``--workdir``) is reused."""
    from engine.models.discovery import MANIFEST_NAME

    base = root / "base" / f"{sitedata.NAME}-{sitedata.VERSION}"
    if not (base / MANIFEST_NAME).is_file():
        sitedata.build_base_model(base, epochs=base_epochs)
    else:
        log.info("reusing the base model in %s", base.parent)
    return [sitedata.make_site(root / f"home-{k + 1}", k, base, corrections) for k in range(sites)]


def simulate(sites: int, settings: ServerSettings, *, corrections: int = 4, workdir: Path | None = None,
             tolerance: float | None = None, keep_weights: Path | None = None) -> dict:
    """Run the federation; returns the server's report plus each site's own status file
    (``keep_weights``: see :func:`~engine.federated.server.run_server`)."""
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="candor-federated-"))
    homes = prepare_sites(root, sites, corrections)
    address = f"127.0.0.1:{free_port()}"
    extra = ("--tolerance", str(tolerance)) if tolerance is not None else ()
    logs = [open(h / "join.log", "w") for h in homes]  # noqa: SIM115 - closed below
    procs = [subprocess.Popen(join_command(address, *extra), env=sitedata.site_environment(h),
                              stdout=subprocess.DEVNULL, stderr=f) for h, f in zip(homes, logs)]
    try:
        report = run_server(settings, address, keep_weights=keep_weights)
    finally:
        for p in procs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs:
            f.close()
    report["sites"] = [_site_outcome(home, p.returncode) for home, p in zip(homes, procs)]
    return report


def _site_outcome(home: Path, exit_code: int | None) -> dict:
    """What a site's own files say: its status, active version and the new version's lineage."""
    from engine.models.discovery import MANIFEST_NAME
    from engine.models.manifest import load_manifest

    path = home / "federated" / "status.json"
    status = json.loads(path.read_text()) if path.is_file() else None
    installed = status and status["last"].get("installed")
    lineage = None
    if installed:
        m = load_manifest(home / "models" / f"{sitedata.NAME}-{installed}" / MANIFEST_NAME)
        lineage = json.loads(json.dumps({"version": m.version, "parent": m.parent_version,
                                       "federated": m.training.get("federated")}, default=dict))
    return {"home": home.name, "exit_code": exit_code, "status": status, "new_version": lineage}
