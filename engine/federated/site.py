"""One site of a federation: a Flower client around the site's own fine-tuning step.

The site loads its active model version from its model store and reads its queued corrections,
regression and rehearsal sets exactly as ``candor finetune`` does
(:func:`engine.corrections.finetune.prepare_data`). Each round it

* ``fit``: loads the global weights, fine-tunes them on its corrections with the same rehearsal,
  edit-weighted loss and early stopping (:func:`~engine.corrections.finetune.train_members`;
  FedProx's proximal term is the L2 pull towards the round's global weights that fine-tuning
  already has, ``anchor`` + ``mu / 2``) and returns the weights and the number of training cases;
* ``evaluate``: measures the aggregated model on its validation split and its frozen regression
  set and applies the local gate (:func:`~engine.corrections.finetune.verdict`, same tolerance).
  After the last round a model that passes is installed as a new version whose lineage records
  the federation (rounds, pseudonymous site ids, sample counts, strategy); one that fails is not,
  and the site keeps its version. The previous version stays installed for ``candor models use``.

What it returns to the server is weight arrays, counts and numeric metrics only: no case id,
pseudonym, file name or label name (``tests/engine/federated/test_messages.py``).
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import replace
from pathlib import Path

import flwr as fl

from engine.corrections.finetune import (measure, prepare_data, train_members, verdict,
                                         write_package)
from engine.corrections.finetune_train import FinetuneConfig, resolve_config, validation_score
from engine.corrections.queue import CorrectionQueue
from engine.federated.weights import get_arrays, set_arrays
from engine.models.store import ModelStore
from engine.models.versions import next_version
from engine.resources import user_subdir

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"  # the site's last round and verdict, for the viewer and `join`


def status_path() -> Path:
    return user_subdir("federated") / STATUS_FILE


class SiteClient(fl.client.NumPyClient):
    """The Flower client of one site (its data under the current Candor home)."""

    def __init__(self, model: str | None = None, config: FinetuneConfig | None = None, *,
                 device: str = "cpu", queue_root: Path | None = None) -> None:
        from engine.inference.predict import resolve_device
        from engine.models.discovery import DEFAULT_MODEL

        self.store = ModelStore()
        self.loaded = self.store.load(model or DEFAULT_MODEL)
        self.manifest = self.loaded.manifest
        self.cfg = resolve_config(config or FinetuneConfig(), self.manifest)
        self.device = resolve_device(device)
        self.queue_root = queue_root
        self.data = prepare_data(self.loaded, self.cfg, queue_root=queue_root)
        self.nets = [copy.deepcopy(n) for n in self.loaded.networks]  # the working copy
        self.before = measure(list(self.loaded.networks), self.data, self.device)
        self.rounds: list[dict] = []

    # -- Flower -----------------------------------------------------------------------------
    def get_parameters(self, config):
        return get_arrays(list(self.loaded.networks))

    def fit(self, parameters, config):
        set_arrays(self.nets, parameters)
        cfg = replace(self.cfg, epochs=int(config.get("epochs", self.cfg.epochs)),
                      steps_per_epoch=int(config.get("steps_per_epoch", self.cfg.steps_per_epoch)),
                      lr=float(config.get("lr", self.cfg.lr)),
                      anchor=self.cfg.anchor + float(config.get("proximal_mu", 0.0)) / 2.0,
                      seed=self.cfg.seed + int(config.get("server_round", 0)))
        log.info("federated round %s: training on %d corrections", config.get("server_round"),
                 len(self.data.train))
        train_members(self.nets, self.data, cfg, self.device)
        return get_arrays(self.nets), len(self.data.train), {}

    def evaluate(self, parameters, config):
        set_arrays(self.nets, parameters)
        after = measure(self.nets, self.data, self.device)
        accepted, reason = verdict(self.before, after, self.cfg.tolerance)
        server_round = int(config.get("server_round", 0))
        record = {"round": server_round, "gate": "passed" if accepted else "failed", "reason": reason,
                  "regression_dice": after["regression"]["dice_mean"],
                  "validation_dice": validation_score(after["validation"])}
        installed = None
        if config.get("final") and accepted:
            installed = self._install(after, json.loads(str(config.get("lineage", "{}"))))
        record["installed"] = installed
        self.rounds.append(record)
        self._write_status(record)
        regression = after["regression"]["dice_mean"] or 0.0
        metrics = {"gate_passed": int(accepted), "regression_dice": float(regression),
                   "validation_dice": float(record["validation_dice"] or 0.0),
                   "installed": int(installed is not None)}
        return 1.0 - float(regression), len(self.data.regression), metrics

    # -- local -------------------------------------------------------------------------------
    def _install(self, after: dict, lineage: dict) -> str:
        """Write the federated model as the site's new active version (the old one stays)."""
        m = self.manifest
        version = next_version(m.version, {i.version for i in self.store.available() if i.name == m.name})
        corrections = {"train": [i.id for i in self.data.train_items],
                       "validation": [i.id for i in self.data.val_items]}
        training = {"fine_tuned_from": m.version, "federated": lineage, "corrections": corrections,
                    "config": self.cfg.to_dict(), "base_training": dict(m.training)}
        validation = {"before": self.before, "after": after, "base_validation": dict(m.validation)}
        write_package(self.loaded, self.nets, m, version, training, validation)
        self.store.set_active(m.name, version)
        with CorrectionQueue(self.queue_root) as queue:
            queue.mark_used(corrections["train"], m.name, version, "train")
            queue.mark_used(corrections["validation"], m.name, version, "val")
        log.info("federated model installed as %s@%s", m.name, version)
        return version

    def _write_status(self, record: dict) -> None:
        status = {"model": self.manifest.name, "base_version": self.manifest.version,
                  "rounds": self.rounds, "last": record}
        status_path().write_text(json.dumps(status, indent=1), encoding="utf-8")
