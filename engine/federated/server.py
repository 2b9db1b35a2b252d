"""The federation's server: Flower's own strategies, a recorder for the report and lineage.

FedAvg by default, FedProx on request (the usual answer when sites' data differ); either may be
wrapped in Flower's server-side differential-privacy wrapper (clip every update to a norm, add
Gaussian noise to the aggregate). :class:`Recorded` delegates every decision to the wrapped
strategy and only writes down what happened: per round, which sites (pseudonymous ids the
server assigns in order of first contact — Flower's connection ids are never stored) sent how
many samples, the failures, the bytes exchanged and each site's gate verdict. The lineage it
sends with the last round's evaluation is what every accepting site writes into its new version.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import flwr as fl
import numpy as np
from flwr.common import EvaluateIns, FitIns, Parameters, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import Strategy

log = logging.getLogger(__name__)

STRATEGIES = ("fedavg", "fedprox")


@dataclass(frozen=True)
class ServerSettings:
    rounds: int = 3
    min_sites: int = 2
    strategy: str = "fedavg"
    proximal_mu: float = 0.1  # FedProx only
    epochs: int = 2  # local epochs per round, sent to the sites
    steps_per_epoch: int = 10
    lr: float = 1e-4  # the sites' fine-tuning rate (``candor finetune``'s default)
    dp_noise: float = 0.0  # > 0: Flower's server-side DP (clip, then Gaussian noise of this multiplier)
    dp_clip: float = 1.0
    join_timeout: float = 600.0  # seconds to wait for ``min_sites`` before round 1


def _nbytes(parameters: Parameters) -> int:
    return sum(len(t) for t in parameters.tensors)


class Recorded(Strategy):
    """``inner`` unchanged, plus the rounds' record (see the module docstring)."""

    def __init__(self, inner: Strategy, settings: ServerSettings) -> None:
        self.inner, self.settings = inner, settings
        self.sites: dict[str, str] = {}
        self.rounds: dict[int, dict] = {}
        self.latest: Parameters | None = None  # the last aggregated global model

    def _site(self, proxy) -> str:
        return self.sites.setdefault(proxy.cid, f"site-{len(self.sites) + 1}")

    def _round(self, server_round: int) -> dict:
        return self.rounds.setdefault(server_round, {"round": server_round, "fit": [], "failures": 0,
                                                     "evaluate": [], "bytes_sent": 0, "bytes_received": 0})

    def lineage(self) -> dict:
        samples: dict[str, list[int]] = {}
        for r in sorted(self.rounds):
            for f in self.rounds[r]["fit"]:
                samples.setdefault(f["site"], []).append(f["samples"])
        return {"strategy": self.settings.strategy, "rounds": len(self.rounds),
                "proximal_mu": self.settings.proximal_mu if self.settings.strategy == "fedprox" else None,
                "dp_noise": self.settings.dp_noise or None,
                "sites": [{"site": s, "samples_per_round": n} for s, n in samples.items()]}

    # -- Strategy --------------------------------------------------------------------------
    def initialize_parameters(self, client_manager):
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(self, server_round, parameters, client_manager):
        if server_round == 1:
            client_manager.wait_for(self.settings.min_sites, timeout=self.settings.join_timeout)
        pairs = self.inner.configure_fit(server_round, parameters, client_manager)
        extra = {"server_round": server_round, "epochs": self.settings.epochs,
                 "steps_per_epoch": self.settings.steps_per_epoch, "lr": self.settings.lr}
        out = [(proxy, FitIns(ins.parameters, {**ins.config, **extra})) for proxy, ins in pairs]
        self._round(server_round)["bytes_sent"] += sum(_nbytes(ins.parameters) for _, ins in out)
        return out

    def aggregate_fit(self, server_round, results, failures):
        record = self._round(server_round)
        for proxy, res in results:
            record["fit"].append({"site": self._site(proxy), "samples": res.num_examples})
            record["bytes_received"] += _nbytes(res.parameters)
        record["failures"] = len(failures)
        record["aggregated"] = bool(results)
        log.info("round %d: aggregated %d site(s), %d failure(s)", server_round, len(results), len(failures))
        aggregated = self.inner.aggregate_fit(server_round, results, failures)
        if aggregated[0] is not None:
            self.latest = aggregated[0]
        return aggregated

    def configure_evaluate(self, server_round, parameters, client_manager):
        pairs = self.inner.configure_evaluate(server_round, parameters, client_manager)
        final = server_round == self.settings.rounds
        extra = {"server_round": server_round, "final": final}
        if final:
            extra["lineage"] = json.dumps(self.lineage())
        return [(proxy, EvaluateIns(ins.parameters, {**ins.config, **extra})) for proxy, ins in pairs]

    def aggregate_evaluate(self, server_round, results, failures):
        record = self._round(server_round)
        for proxy, res in results:
            m = res.metrics
            record["evaluate"].append({"site": self._site(proxy), "gate": "passed" if m.get("gate_passed") else "failed",
                                       "regression_dice": round(float(m.get("regression_dice", 0.0)), 5),
                                       "validation_dice": round(float(m.get("validation_dice", 0.0)), 5),
                                       "installed": bool(m.get("installed"))})
        record["evaluate_failures"] = len(failures)
        return self.inner.aggregate_evaluate(server_round, results, failures)

    def evaluate(self, server_round, parameters):
        return self.inner.evaluate(server_round, parameters)


class FixedClipping(fl.server.strategy.DifferentialPrivacyServerSideFixedClipping):
    """Flower's server-side fixed clipping and noise, safe for a site that returns the global model
    unchanged (its early stopping kept the starting epoch): Flower divides by the update's norm
    (ZeroDivisionError in flwr 1.42); a zero update needs no clipping. As in Flower, a round with a
    failed site aggregates nothing (the noise is calibrated to ``num_sampled_clients``)."""

    def aggregate_fit(self, server_round, results, failures):
        try:
            from flwr.supercore.differential_privacy import (add_gaussian_noise_to_params,
                                                             compute_clip_model_update, get_norm)
        except ImportError:  # flwr < 1.2x kept them in flwr.common
            from flwr.common.differential_privacy import (add_gaussian_noise_to_params,
                                                          compute_clip_model_update, get_norm)
        if failures:
            return None, {}
        for _, res in results:
            params = parameters_to_ndarrays(res.parameters)
            if get_norm([np.subtract(x, y) for x, y in zip(params, self.current_round_params)]) > 0:
                compute_clip_model_update(params, self.current_round_params, self.clipping_norm)
                res.parameters = ndarrays_to_parameters(params)
        aggregated, metrics = self.strategy.aggregate_fit(server_round, results, failures)
        if aggregated:
            aggregated = add_gaussian_noise_to_params(aggregated, self.noise_multiplier, self.clipping_norm,
                                                      self.num_sampled_clients)
        return aggregated, metrics


def build_strategy(settings: ServerSettings) -> Recorded:
    """Flower's FedAvg or FedProx over every connected site, optionally DP-wrapped, recorded."""
    if settings.strategy not in STRATEGIES:
        from engine.errors import InputError

        raise InputError(f"unknown strategy {settings.strategy!r} (known: {', '.join(STRATEGIES)})")
    common = {"fraction_fit": 1.0, "fraction_evaluate": 1.0, "min_fit_clients": 1,
              "min_evaluate_clients": 1, "min_available_clients": 1, "accept_failures": True}
    if settings.strategy == "fedprox":
        inner: Strategy = fl.server.strategy.FedProx(proximal_mu=settings.proximal_mu, **common)
    else:
        inner = fl.server.strategy.FedAvg(**common)
    if settings.dp_noise > 0:
        inner = FixedClipping(
            inner, noise_multiplier=settings.dp_noise, clipping_norm=settings.dp_clip,
            num_sampled_clients=settings.min_sites)
    return Recorded(inner, settings)


def certificates(folder: Path | None) -> tuple[bytes, bytes, bytes] | None:
    """(CA, server certificate, server key) read from ``ca.crt``, ``server.pem``, ``server.key``."""
    if folder is None:
        return None
    from engine.errors import InputError

    names = ("ca.crt", "server.pem", "server.key")
    missing = [n for n in names if not (Path(folder) / n).is_file()]
    if missing:
        raise InputError(f"the certificate folder lacks {', '.join(missing)}")
    return tuple((Path(folder) / n).read_bytes() for n in names)  # type: ignore[return-value]


def run_server(settings: ServerSettings, address: str = "127.0.0.1:8080",
               certificate_folder: Path | None = None, *, keep_weights: Path | None = None) -> dict:
    """Run the federation to the end; returns the report (rounds, lineage, wall time).

    ``keep_weights``: also write the last global model's arrays there (``.npz``, in the order of
    :func:`engine.federated.weights.get_arrays`) — the coordinator's copy, for audit or evaluation
    whether or not a site's gate accepted it."""
    strategy = build_strategy(settings)
    start = time.perf_counter()
    history = fl.server.start_server(server_address=address, strategy=strategy,
                                     config=fl.server.ServerConfig(num_rounds=settings.rounds),
                                     certificates=certificates(certificate_folder))
    if keep_weights is not None and strategy.latest is not None:
        np.savez(keep_weights, *parameters_to_ndarrays(strategy.latest))
    return {"strategy": settings.strategy, "settings": settings.__dict__,
            "rounds": [strategy.rounds[r] for r in sorted(strategy.rounds)],
            "lineage": strategy.lineage(),
            "losses_distributed": [[r, float(v)] for r, v in history.losses_distributed],
            "seconds": round(time.perf_counter() - start, 1)}
