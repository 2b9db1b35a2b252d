"""Train Candor's default model (``make train-default``) and write its package.

    python -m engine.training.train_default [--members N] [--member K] [--out DIR]

Trains the shipped member(s) (``--members 3`` adds the snapshot-style members 2 and 3; member 1 is
``weights.safetensors``), on the CPU by default, and writes ``manifest.json`` plus weights to ``resources/models/candor-brain-t1``.
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
from engine.synthesis.template import load_template
from engine.training.train import TrainConfig, train

log = logging.getLogger("candor.train")

DEFAULT_CONFIG = TrainConfig(**dm.TRAINING)


def _existing_members(out: Path, count: int, cfg: TrainConfig) -> list[ResUNet3D | None]:
    nets: list[ResUNet3D | None] = [None] * count
    for i in range(count):
        path = out / dm.member_file(i)
        if path.is_file():
            net = ResUNet3D(1, cfg.num_classes, **{**cfg.architecture_params(), "channels": tuple(cfg.channels)})
            net.load_state_dict(read_state_dict(path))
            nets[i] = net
    return nets


def _describe(changes: dict) -> dict:
    """JSON-ready copy of a stage's config changes (dataclasses become dicts)."""
    from dataclasses import asdict, is_dataclass

    return {k: asdict(v) if is_dataclass(v) else v for k, v in changes.items()}


def _checkpoint_writer(out: Path, member: int, stage: int):
    """Keep the best-so-far weights of a running member next to the package (partial-run safety)."""
    from engine.models.weights import write_safetensors

    def save(net: ResUNet3D, entry: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        write_safetensors(net.state_dict(), out / f".checkpoint-member-{member}-stage-{stage}.safetensors",
                          metadata={"step": str(entry["step"]), "score": f"{entry['score']:.4f}"})

    return save


def run(out: Path, members: list[int], total: int, threads: int,
        resume: dict[tuple[int, int], Path] | None = None) -> None:
    resume = resume or {}
    torch.set_num_threads(threads)
    template = load_template(dm.SPACING_MM)
    nets = _existing_members(out, total, DEFAULT_CONFIG)
    previous = load_manifest(out / "manifest.json") if (out / "manifest.json").is_file() else None
    runs = dict((previous.training.get("members") or {}) if previous else {})
    validation = dict((previous.validation.get("training_validation") or {}) if previous else {})
    for k in members:
        parent = dm.INIT_FROM.get(k)
        init = None
        if parent is not None:
            if nets[parent - 1] is None:
                raise SystemExit(f"member {k} starts from member {parent}: train member {parent} first")
            init = {n: t.clone() for n, t in nets[parent - 1].state_dict().items()}
        stages = []
        for stage, changes in enumerate(dm.MEMBER_PLANS.get(k, [{}])):
            cfg = replace(DEFAULT_CONFIG, **{"seed": dm.MEMBER_SEEDS[k - 1] + 100 * stage, **changes})
            if (k, stage + 1) in resume:  # an interrupted run's checkpoint of exactly this stage
                init = read_state_dict(resume[(k, stage + 1)])
                stages.append({"seed": cfg.seed, "changes": _describe(changes), "resumed_from_checkpoint": True})
                log.info("member %d, stage %d: resumed from its checkpoint", k, stage + 1)
                continue
            log.info("training member %d, stage %d (seed %d)", k, stage + 1, cfg.seed)
            result = train(cfg, template, on_checkpoint=_checkpoint_writer(out, k, stage + 1), init_state=init)
            init = result.network.state_dict()
            stages.append({"seed": cfg.seed, "changes": _describe(changes), "steps": result.steps,
                           "best_step": result.best_step, "best_score": round(result.best_score, 4),
                           "seconds": round(result.seconds, 1), "bf16_autocast": result.bf16,
                           "history": result.history})
        net = ResUNet3D(1, DEFAULT_CONFIG.num_classes,
                        **{**DEFAULT_CONFIG.architecture_params(), "channels": tuple(DEFAULT_CONFIG.channels)})
        net.load_state_dict(init)
        nets[k - 1] = net.eval()
        runs[str(k)] = {"init_from_member": parent, "stages": stages, "threads": threads,
                        "seconds": round(sum(st.get("seconds") or 0.0 for st in stages), 1)}
        trained = [st for st in stages if "history" in st]
        if trained:
            last = trained[-1]
            validation[str(k)] = {"best_step": last["best_step"], "best_score": last["best_score"],
                                  "at_best": next(h for h in last["history"] if h["step"] == last["best_step"])}
        present = []
        for net in nets:  # members are numbered without gaps: save the leading run of trained ones
            if net is None:
                break
            present.append(net)
        if len(present) < sum(n is not None for n in nets):
            log.warning("a member before a trained one is missing; only members 1..%d are saved", len(present))
        if not present:
            log.info("member %d kept as checkpoint files only (member 1 is not in %s yet)", k, out)
            continue
        fp = dm.fingerprint(template, DEFAULT_CONFIG)
        training = {"config": DEFAULT_CONFIG.to_dict(), "members": runs,
                    "resolution_note": "trained and run at 2 mm isotropic; inputs are resampled to 2 mm",
                    "data": "synthetic cases generated from the MNI ICBM152 2009a template (engine/synthesis/synth.py)"}
        manifest = dm.build_manifest(DEFAULT_CONFIG, len(present), fp, training,
                                     {"training_validation": validation})
        save_model(out, manifest, present)
        log.info("wrote %s with %d member(s)", out, len(present))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=dm.SHIPPED_MEMBERS,
                        help=f"ensemble size (default {dm.SHIPPED_MEMBERS}: what ships; up to {len(dm.MEMBER_SEEDS)})")
    parser.add_argument("--member", type=int, action="append", help="train only this member (1-based); repeatable")
    parser.add_argument("--out", type=Path, default=None, help="package folder (default: the bundled one)")
    parser.add_argument("--resume", action="append", default=[], metavar="K:S:FILE",
                        help="use FILE (a checkpoint this script wrote) as the result of member K's stage S")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (default 2: the reference machine's cores; use 1 on a shared machine)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = args.out or resource_path("models") / dm.NAME
    members = args.member or list(range(1, args.members + 1))
    t0 = time.perf_counter()
    resume = {}
    for item in args.resume:
        k, st, path = item.split(":", 2)
        resume[(int(k), int(st))] = Path(path)
    run(out, members, max(args.members, max(members)), args.threads, resume)
    log.info("done in %.1f min", (time.perf_counter() - t0) / 60)
    print(json.dumps({"package": str(out), "members": members}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
