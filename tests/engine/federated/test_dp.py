"""Server-side DP: updates are clipped to the norm, and a site that sends the global model back
unchanged (its early stopping kept the starting epoch) does not break the round."""

from __future__ import annotations

import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import FedAvg

from engine.federated.server import FixedClipping, ServerSettings, build_strategy


def _res(arrays, n=3):
    return FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), n, {})


def test_clipping_with_an_unchanged_site():
    rng = np.random.default_rng(0)
    glob = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
    moved = [a + 10.0 for a in glob]
    strategy = FixedClipping(FedAvg(), noise_multiplier=0.0, clipping_norm=0.5, num_sampled_clients=2)
    strategy.current_round_params = [a.copy() for a in glob]  # what its configure_fit records
    aggregated, _ = strategy.aggregate_fit(1, [(None, _res(glob)), (None, _res(moved))], [])
    update = [a - g for a, g in zip(parameters_to_ndarrays(aggregated), glob)]
    # the moved site's update clipped to 0.5, averaged with the unchanged site's zero update
    assert abs(np.sqrt(sum(float((u ** 2).sum()) for u in update)) - 0.25) < 1e-5
    assert all(np.allclose(u, u.flat[0]) for u in update)  # the direction kept (all +10)


def test_build_strategy_wraps_with_dp_only_on_request():
    assert not isinstance(build_strategy(ServerSettings()).inner, FixedClipping)
    dp = build_strategy(ServerSettings(dp_noise=0.5, dp_clip=2.0, min_sites=3)).inner
    assert isinstance(dp, FixedClipping) and dp.clipping_norm == 2.0 and dp.num_sampled_clients == 3
