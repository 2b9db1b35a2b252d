"""Federated fine-tuning against the alternatives, on generated sites (issue 18, "Evidence").

Not a test. Three (``--sites``) generated sites (``engine.federated.sitedata``: the base model,
trained on bright lesions only, misses every other kind; each site corrects a *different* kind —
dark, faint (low-contrast hypo-intense), textured — on its own noise profile) each queue
``--corrections`` corrections and hold out ``--held-out`` more cases of its own kind. Compared on
every site's held-out cases (Dice of the lesion label, the one the corrections changed) and on the
base package's frozen regression set:

* the base model;
* each site fine-tuned alone on its queue (``prepare_data`` → ``train_members`` → ``measure`` →
  ``verdict``: the steps ``candor finetune`` runs; the weights are kept even when the gate refuses);
* centralised fine-tuning on the pooled corrections of every site (the upper reference);
* FedAvg, FedProx and FedAvg with server-side DP through ``engine.federated.simulate.simulate``
  (the code of ``candor federated simulate``: a Flower server and one ``join`` process per site
  on loopback); the global model is the coordinator's final copy.

The same number of optimiser steps everywhere: ``rounds × local epochs × steps`` (``--rounds``,
``--local-epochs``, ``--steps``), as epochs alone/centralised, per site federated. The sites'
rate is ``--lr``, FedProx's μ ``--mu``; ``--rehearsal-per-batch`` changes the replayed share of
the alone and centralised runs only (a federated site uses ``candor federated join``'s recipe).

    nice -n 10 .venv/bin/python bench/bench_federated.py --out fed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS, LOCAL_EPOCHS, STEPS = 4, 2, 8
HELD_OUT_FIRST = 500  # seed offset of the held-out cases (corrections use 0..)


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    name = next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "?")
    flags = next((l for l in out.splitlines() if l.startswith("Flags")), "")
    have = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in flags]
    return f"{name} ({os.cpu_count()} CPUs; {', '.join(have) or 'no avx512/amx'})"


def held_out(sites: int, n: int, manifest) -> list[list]:
    from engine.corrections.finetune_data import prepare
    from engine.federated import sitedata

    return [[prepare(f"s{k}h{i}", img, truth, manifest)
             for i, (img, truth) in enumerate(sitedata.site_cases(k, n, first=HELD_OUT_FIRST))]
            for k in range(sites)]


def score(nets, cases: list[list], regression, manifest) -> dict:
    from engine.corrections.finetune_train import evaluate

    lesion = manifest.labels.get(1).name
    per_site = [evaluate(nets, c, manifest, "cpu")["per_label"].get(lesion, 0.0) for c in cases]
    return {"held_out_lesion_dice": [round(d, 4) for d in per_site],
            "regression_dice": evaluate(nets, regression, manifest, "cpu")["dice_mean"]}


def train_alone(home: Path, cfg) -> tuple[list, dict]:
    """Fine-tune the home's base model on its queue as ``candor finetune`` does; keep the weights."""
    import copy

    from engine.corrections.finetune import measure, prepare_data, train_members, verdict
    from engine.federated import sitedata
    from engine.models.package import load_model

    loaded = load_model(home / "models" / f"{sitedata.NAME}-{sitedata.VERSION}")
    data = prepare_data(loaded, cfg, queue_root=home / "queue")
    nets = [copy.deepcopy(n) for n in loaded.networks]
    before = measure(nets, data, "cpu")
    start = time.perf_counter()
    train_members(nets, data, cfg, "cpu")
    seconds = time.perf_counter() - start
    accepted, reason = verdict(before, measure(nets, data, "cpu"), cfg.tolerance)
    return nets, {"gate": "passed" if accepted else "failed", "reason": reason, "seconds": round(seconds, 1),
                  "train_cases": len(data.train)}


def federated(root: Path, base: Path, args, **settings) -> tuple[list, dict]:
    """One federation through ``simulate``; the global model is the coordinator's final copy
    (``keep_weights``), so it is measured whether or not the sites' gates accepted it."""
    import copy

    import numpy as np

    from engine.federated.server import ServerSettings
    from engine.federated.simulate import simulate
    from engine.federated.weights import set_arrays
    from engine.models.package import load_model

    shutil.copytree(base, root / "base" / base.name)
    s = ServerSettings(rounds=args.rounds, min_sites=args.sites, epochs=args.local_epochs,
                       steps_per_epoch=args.steps, lr=args.lr, **settings)
    report = simulate(args.sites, s, corrections=args.corrections, workdir=root, keep_weights=root / "global.npz")
    rounds = report["rounds"]
    info = {"seconds": report["seconds"], "rounds": len(rounds),
            "bytes_per_round": [r["bytes_sent"] + r["bytes_received"] for r in rounds],
            "gates": [e["gate"] for e in rounds[-1]["evaluate"]],
            "installed": [bool(x["status"] and x["status"]["last"]["installed"]) for x in report["sites"]]}
    nets = [copy.deepcopy(n) for n in load_model(base).networks]
    with np.load(root / "global.npz") as f:
        set_arrays(nets, [f[f"arr_{i}"] for i in range(len(f.files))])
    return nets, info


def run(args) -> dict:
    import torch

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="candor-bench-fed-"))
    try:
        return _run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(args, root: Path) -> dict:
    import torch

    from engine.corrections.finetune_data import load_regression_set, prepare
    from engine.corrections.finetune_train import FinetuneConfig, resolve_config
    from engine.federated import sitedata
    from engine.models.package import load_model

    t0 = time.perf_counter()
    base = sitedata.build_base_model(root / "base" / f"{sitedata.NAME}-{sitedata.VERSION}", epochs=args.base_epochs)
    base_seconds = time.perf_counter() - t0
    loaded = load_model(base)
    m = loaded.manifest
    cases = held_out(args.sites, args.held_out, m)
    regression = [prepare(n, i, lab, m) for n, i, lab in load_regression_set(base)]
    cfg = resolve_config(FinetuneConfig(epochs=args.rounds * args.local_epochs, steps_per_epoch=args.steps,
                                        lr=args.lr, rehearsal_per_batch=args.rehearsal_per_batch), m)
    rows = {"base": {**score(list(loaded.networks), cases, regression, m)}}
    for k in range(args.sites):
        home = sitedata.make_site(root / f"alone-{k + 1}", k, base, args.corrections)
        os.environ["CANDOR_HOME"] = str(home)
        nets, info = train_alone(home, cfg)
        rows[f"site {k + 1} alone"] = {**score(nets, cases, regression, m), **info}
    pooled = root / "pooled"
    for k in range(args.sites):
        sitedata.make_site(pooled, k, base, args.corrections)
    os.environ["CANDOR_HOME"] = str(pooled)
    nets, info = train_alone(pooled, cfg)
    rows["centralised (pooled)"] = {**score(nets, cases, regression, m), **info}
    variants = {"FedAvg": {"strategy": "fedavg"},
                f"FedProx (mu {args.mu})": {"strategy": "fedprox", "proximal_mu": args.mu},
                f"FedAvg + DP (sigma {args.dp_noise}, clip {args.dp_clip})":
                    {"strategy": "fedavg", "dp_noise": args.dp_noise, "dp_clip": args.dp_clip}}
    if args.no_dp:
        variants.popitem()
    for i, (label, settings) in enumerate(variants.items()):
        nets, info = federated(root / f"fed-{i}", base, args, **settings)
        rows[label] = {**score(nets, cases, regression, m), **info}
    return {"machine": _cpu(), "torch": torch.__version__, "sites": args.sites, "corrections": args.corrections,
            "held_out_per_site": args.held_out, "kinds": [sitedata.PROFILES[k % len(sitedata.PROFILES)].kind
                                                          for k in range(args.sites)],
            "steps": {"rounds": args.rounds, "local_epochs": args.local_epochs, "steps_per_epoch": args.steps,
                      "lr": args.lr, "proximal_mu": args.mu, "rehearsal_per_batch": args.rehearsal_per_batch},
            "base_seconds": round(base_seconds, 1), "rows": rows,
            "total_seconds": round(time.perf_counter() - t0, 1)}


def table(result: dict) -> str:
    n = result["sites"]
    head = ("| model | " + " | ".join(f"site {k + 1} held-out" for k in range(n))
            + " | mean | other sites' mean | regression Dice | gate(s) | wall s |")
    lines = [head, "|" + " --- |" * (n + 6)]
    for label, r in result["rows"].items():
        d = r["held_out_lesion_dice"]
        own = int(label.split()[1]) - 1 if label.endswith("alone") else None
        others = f"{sum(x for k, x in enumerate(d) if k != own) / (n - 1):.3f}" if own is not None else ""
        gates = r.get("gate") or ", ".join(r.get("gates", [])) or ""
        lines.append(f"| {label} | " + " | ".join(f"{x:.3f}" for x in d) + f" | {sum(d) / n:.3f} | {others} | "
                     f"{r['regression_dice']:.3f} | {gates} | {r.get('seconds', '')} |")
    return "\n".join(lines)


def targets(result: dict) -> str:
    """The issue's targets, per federated row: mean Dice against centralised; against each site
    alone on the other sites' cases (federated / alone); the sites' gates."""
    rows, n = result["rows"], result["sites"]
    central = sum(rows["centralised (pooled)"]["held_out_lesion_dice"]) / n

    def others(d: list, k: int) -> float:
        return sum(x for j, x in enumerate(d) if j != k) / (n - 1)

    lines = []
    for label, r in rows.items():
        if "gates" not in r:
            continue
        d = r["held_out_lesion_dice"]
        versus = [(others(d, k), others(rows[f"site {k + 1} alone"]["held_out_lesion_dice"], k)) for k in range(n)]
        lines.append(f"{label}: mean {sum(d) / n:.3f} vs centralised {central:.3f} ({sum(d) / n - central:+.3f}); "
                     "other sites' cases vs site k alone: "
                     + ", ".join(f"{f:.3f}/{a:.3f}" for f, a in versus)
                     + f" (better than {sum(f > a for f, a in versus)} of {n}); gates {', '.join(r['gates'])}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sites", type=int, default=3)
    p.add_argument("--corrections", type=int, default=8)
    p.add_argument("--held-out", type=int, default=6)
    p.add_argument("--base-epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-4, help="the sites' rate (default: candor finetune's 1e-4)")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--local-epochs", type=int, default=LOCAL_EPOCHS)
    p.add_argument("--steps", type=int, default=STEPS, help="optimiser steps per epoch")
    p.add_argument("--mu", type=float, default=0.1, help="FedProx's proximal μ")
    p.add_argument("--rehearsal-per-batch", type=int, default=2,
                   help="replayed base cases per batch, alone and centralised (default: candor finetune's 2)")
    p.add_argument("--no-dp", action="store_true", help="skip the DP federation (saves a third of the time)")
    p.add_argument("--dp-noise", type=float, default=0.1)
    p.add_argument("--dp-clip", type=float, default=1.0)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(args)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    sys.stdout.write(table(result) + "\n" + targets(result) + "\n"
                     + json.dumps({k: v for k, v in result.items() if k != "rows"}) + "\n")
    for label, r in result["rows"].items():
        if "bytes_per_round" in r:
            sys.stdout.write(f"{label}: rounds {r['rounds']}, bytes/round {r['bytes_per_round']}, "
                             f"installed {r['installed']}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
