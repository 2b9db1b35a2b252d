"""A real server and ``join`` clients as separate processes on loopback.

Three sites join; one demands an impossible regression tolerance (its gate must fail, so it keeps
its version), one is killed in the middle of round 2's training (the others go on).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from engine.federated import sitedata
from engine.federated.simulate import free_port, join_command
from engine.models.discovery import MANIFEST_NAME
from engine.models.manifest import load_manifest
from engine.models.versions import active_version


def _wait_for(path, text: str, proc, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, path.read_text(errors="replace")[-2000:]
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {path.name}")


def test_server_and_join_processes_with_a_failed_gate_and_a_dropout(base_package, tmp_path, monkeypatch):
    homes = [sitedata.make_site(tmp_path / f"home-{k}", k, base_package, corrections=4) for k in range(3)]
    address = f"127.0.0.1:{free_port()}"
    report_path = tmp_path / "server.json"
    server = subprocess.Popen([sys.executable, "-m", "engine", "federated", "server", "--rounds", "2",
                               "--min-sites", "3", "--address", address, "--local-epochs", "2",
                               "--steps-per-epoch", "4", "--lr", "5e-4", "--report", str(report_path)],
                              env=sitedata.site_environment(tmp_path), stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "server.log", "w"))
    extra = [(), ("--tolerance", "-1"), ()]
    joins = [subprocess.Popen(join_command(address, *x), env=sitedata.site_environment(h),
                              stdout=subprocess.DEVNULL, stderr=open(h / "join.log", "w"))
             for h, x in zip(homes, extra)]
    try:
        _wait_for(homes[2] / "join.log", "federated round 2: training", joins[2])
        joins[2].kill()  # the site leaves mid-round
        assert server.wait(timeout=300) == 0, (tmp_path / "server.log").read_text()[-3000:]
        codes = [joins[0].wait(timeout=60), joins[1].wait(timeout=60)]
    finally:
        for p in [server, *joins]:
            if p.poll() is None:
                p.kill()
            p.wait()
    assert codes == [0, 0]

    report = json.loads(report_path.read_text())
    r1, r2 = report["rounds"]
    assert len(r1["fit"]) == 3 and r1["failures"] == 0
    assert len(r2["fit"]) == 2 and r2["failures"] == 1 and r2["aggregated"]  # the others went on
    assert len(r2["evaluate"]) == 2

    # the site with the impossible tolerance refused: still on 1.0.0, no new package
    monkeypatch.setenv("CANDOR_HOME", str(homes[1]))
    status = json.loads((homes[1] / "federated" / "status.json").read_text())
    assert status["last"]["gate"] == "failed" and "regression set" in status["last"]["reason"]
    assert active_version(sitedata.NAME) in (None, sitedata.VERSION)
    assert sorted(p.name for p in (homes[1] / "models").iterdir() if p.is_dir()) == [base_package.name]

    # the first site's verdict matches its store; an accepted version carries the lineage
    status = json.loads((homes[0] / "federated" / "status.json").read_text())
    new = homes[0] / "models" / f"{sitedata.NAME}-1.0.1"
    assert new.is_dir() == (status["last"]["gate"] == "passed")
    if new.is_dir():
        fed = load_manifest(new / MANIFEST_NAME).training["federated"]
        assert fed["rounds"] == 2 and len(fed["sites"]) == 3
        assert sorted(len(s["samples_per_round"]) for s in fed["sites"]) == [1, 2, 2]  # the dropout: 1 round
