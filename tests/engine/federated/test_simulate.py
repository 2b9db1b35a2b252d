"""``candor federated simulate``: three generated sites, three rounds, real Flower processes."""

from __future__ import annotations

import json
import shutil

from engine.cli import main


def test_simulate_three_sites_reports_rounds_gates_and_lineage(base_package, tmp_path, capsys):
    # the session's base model, where simulate looks for one it trained before (saves training it)
    shutil.copytree(base_package, tmp_path / "w" / "base" / base_package.name)
    report_path = tmp_path / "r.json"
    code = main(["federated", "simulate", "--sites", "3", "--rounds", "3", "--local-epochs", "2",
                 "--steps-per-epoch", "4", "--lr", "5e-4", "--corrections", "4",
                 "--workdir", str(tmp_path / "w"), "--report", str(report_path)])
    assert code == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())

    # per-round aggregation: every site sent its training count, the server aggregated them
    assert [r["round"] for r in report["rounds"]] == [1, 2, 3]
    for r in report["rounds"]:
        assert r["aggregated"] and r["failures"] == 0
        assert sorted(f["site"] for f in r["fit"]) == ["site-1", "site-2", "site-3"]
        assert all(f["samples"] == 3 for f in r["fit"])  # 4 corrections: 3 train, 1 validation
        assert r["bytes_received"] == r["bytes_sent"] > 0  # same architecture both ways
        assert len(r["evaluate"]) == 3 and {e["gate"] for e in r["evaluate"]} <= {"passed", "failed"}

    # each site's own verdict agrees with what it told the server, and with its model store
    final = {e["site"]: e for e in report["rounds"][-1]["evaluate"]}
    sites = report["sites"]
    assert all(s["exit_code"] == 0 for s in sites)
    installed = [s for s in sites if s["status"]["last"]["installed"]]
    assert sum(e["installed"] for e in final.values()) == len(installed)
    assert {s["status"]["last"]["gate"] for s in installed} == {"passed"}
    assert installed, "no site accepted the federated model"  # the generated task is learnable
    lineage = installed[0]["new_version"]
    assert lineage["version"] == "1.0.1" and lineage["parent"] == "1.0.0"
    fed = lineage["federated"]
    assert fed["strategy"] == "fedavg" and fed["rounds"] == 3
    assert sorted(s["site"] for s in fed["sites"]) == ["site-1", "site-2", "site-3"]
    assert all(s["samples_per_round"] == [3, 3, 3] for s in fed["sites"])
    for s in sites:
        if not s["status"]["last"]["installed"]:
            assert s["new_version"] is None and s["status"]["last"]["gate"] == "failed"
