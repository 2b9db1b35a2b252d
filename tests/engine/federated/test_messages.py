"""Nothing identifying leaves a site: the Flower messages a site sends hold weights and counts.

The site's real Flower client answers real ``GetParametersIns``/``FitIns``/``EvaluateIns``; its
answers are serialised with Flower's own protobuf serde (the bytes that go on the wire) and
searched for every string the site's queue holds: case ids, study/series pseudonyms, blob file
names, the site's folder.
"""

from __future__ import annotations

import numpy as np
from flwr.common import Code, EvaluateIns, FitIns, GetParametersIns, parameters_to_ndarrays
from flwr.common import serde

from engine.corrections.queue import CorrectionQueue
from engine.federated import sitedata
from engine.federated.site import SiteClient
from engine.federated.weights import get_arrays, shapes


def _queue_strings(home) -> set[str]:
    strings = set()
    with CorrectionQueue(home / "queue") as queue:
        for item in queue.items():
            strings |= {item.id, item.study, item.series, item.image, item.ai, item.corrected}
    for path in (home / "queue").rglob("*"):
        strings |= {path.name, path.stem}
    strings |= {str(home), home.name}
    return {s for s in strings if s and len(s) >= 6}


def test_a_site_sends_only_weight_tensors_and_counts(base_package, candor_home, one_thread):
    sitedata.make_site(candor_home, 0, base_package, corrections=3)
    secrets = _queue_strings(candor_home)
    assert len(secrets) > 9  # ids, pseudonyms and blob names really are there to leak

    site = SiteClient(sitedata.NAME)
    client = site.to_client()
    expected = shapes(list(site.loaded.networks))

    got = client.get_parameters(GetParametersIns({}))
    wire = [serde.get_parameters_res_to_proto(got).SerializeToString()]
    assert [a.shape for a in parameters_to_ndarrays(got.parameters)] == expected

    config = {"server_round": 1, "epochs": 1, "steps_per_epoch": 2, "lr": 5e-4}
    fit = client.fit(FitIns(got.parameters, config))
    assert fit.status.code == Code.OK
    assert [a.shape for a in parameters_to_ndarrays(fit.parameters)] == expected
    assert fit.num_examples == len(site.data.train) and dict(fit.metrics) == {}
    wire.append(serde.fit_res_to_proto(fit).SerializeToString())

    lineage = '{"strategy": "fedavg", "rounds": 1, "sites": []}'
    ev = client.evaluate(EvaluateIns(fit.parameters, {"server_round": 1, "final": True, "lineage": lineage}))
    assert set(ev.metrics) == {"gate_passed", "regression_dice", "validation_dice", "installed"}
    assert all(isinstance(v, (int, float)) for v in ev.metrics.values())
    assert ev.num_examples == len(site.data.regression) == 3
    wire.append(serde.evaluate_res_to_proto(ev).SerializeToString())

    # the proto fields are exactly status, parameters (tensors + type), counts, numeric metrics
    proto = serde.fit_res_to_proto(fit)
    assert {f.name for f, _ in proto.ListFields()} <= {"status", "parameters", "num_examples", "metrics"}
    assert proto.parameters.tensor_type == "numpy.ndarray"
    for blob in wire:
        for s in secrets:
            assert s.encode() not in blob, "a queue string left the site"
    # what went out is the site's fine-tuned weights, tensor for tensor
    for sent, held in zip(parameters_to_ndarrays(fit.parameters), get_arrays(site.nets)):
        assert np.array_equal(sent, held)
