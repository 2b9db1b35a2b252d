"""Train Candor's default model (``make train-default``) and write its package.

    python -m engine.training.train_default [--members N] [--member K] [--out DIR]

Trains ensemble member(s) with seeds 1, 2, 3 (member 1 is ``weights.safetensors``), on the CPU by
default, and writes ``manifest.json`` plus weights to ``resources/models/candor-brain-t1``.
``--member K`` trains only member K (1-based) into an existing package, so members can be trained
one after another; the manifest lists the members present.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from engine.models.manifest import load_manifest
from engine.models.package import save_model
from engine.models.weights import read_state_dict
from engine.models.unet import ResUNet3D
from engine.resources import resource_path
from engine.training import default_model as dm
from engine.training.template import load_template
from engine.training.train import TrainConfig, train

log = logging.getLogger("candor.train")

DEFAULT_CONFIG = TrainConfig()


def _existing_members(out: Path, count: int, cfg: TrainConfig) -> list[ResUNet3D | None]:
    nets: list[ResUNet3D | None] = [None] * count
    for i in range(count):
        path = out / dm.member_file(i)
        if path.is_file():
            net = ResUNet3D(1, cfg.num_classes, **{**cfg.architecture_params(), "channels": tuple(cfg.channels)})
            net.load_state_dict(read_state_dict(path))
            nets[i] = net
    return nets


def _checkpoint_writer(out: Path, member: int):
    """Keep the best-so-far weights of a running member next to the package (partial-run safety)."""
    from engine.models.weights import write_safetensors

    def save(net: ResUNet3D, entry: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        write_safetensors(net.state_dict(), out / f".checkpoint-member-{member}.safetensors",
                          metadata={"step": str(entry["step"]), "score": f"{entry['score']:.4f}"})

    return save


def run(out: Path, members: list[int], total: int, threads: int) -> None:
    torch.set_num_threads(threads)
    template = load_template(dm.SPACING_MM)
    nets = _existing_members(out, total, DEFAULT_CONFIG)
    previous = load_manifest(out / "manifest.json") if (out / "manifest.json").is_file() else None
    runs = dict((previous.training.get("members") or {}) if previous else {})
    validation = dict((previous.validation.get("training_validation") or {}) if previous else {})
    for k in members:
        cfg = replace(DEFAULT_CONFIG, seed=dm.MEMBER_SEEDS[k - 1])
        log.info("training member %d (seed %d)", k, cfg.seed)
        result = train(cfg, template, on_checkpoint=_checkpoint_writer(out, k))
        nets[k - 1] = result.network
        runs[str(k)] = {"seed": cfg.seed, "steps": result.steps, "best_step": result.best_step,
                        "seconds": round(result.seconds, 1), "threads": threads}
        validation[str(k)] = result.history[-1] | {"best_step": result.best_step,
                                                   "best_score": result.best_score}
        present = []
        for net in nets:  # members are numbered without gaps: save the leading run of trained ones
            if net is None:
                break
            present.append(net)
        if len(present) < sum(n is not None for n in nets):
            log.warning("a member before a trained one is missing; only members 1..%d are saved", len(present))
        if not present:
            log.info("member %d kept as %s only (member 1 is not in %s yet)", k,
                     f".checkpoint-member-{k}.safetensors", out)
            continue
        fp = dm.fingerprint(template, DEFAULT_CONFIG)
        training = {"config": DEFAULT_CONFIG.to_dict(), "members": runs,
                    "resolution_note": "trained and run at 2 mm isotropic; inputs are resampled to 2 mm",
                    "data": "synthetic cases generated from the MNI ICBM152 2009a template (engine/training/synth.py)"}
        manifest = dm.build_manifest(DEFAULT_CONFIG, len(present), fp, training,
                                     {"training_validation": validation})
        save_model(out, manifest, present)
        log.info("wrote %s with %d member(s)", out, len(present))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=len(dm.MEMBER_SEEDS), help="ensemble size (default 3)")
    parser.add_argument("--member", type=int, action="append", help="train only this member (1-based); repeatable")
    parser.add_argument("--out", type=Path, default=None, help="package folder (default: the bundled one)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest on a shared 2-core machine)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = args.out or resource_path("models") / dm.NAME
    members = args.member or list(range(1, args.members + 1))
    t0 = time.perf_counter()
    run(out, members, max(args.members, max(members)), args.threads)
    log.info("done in %.1f min", (time.perf_counter() - t0) / 60)
    print(json.dumps({"package": str(out), "members": members}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
