"""Candor's nnU-Net preprocessing against nnU-Net's own ``DefaultPreprocessor.run_case_npy``.

Plans variants the generated dataset does not produce on its own: CT normalisation (the
fingerprint's percentiles, mean, SD), z-score over the whole image, a non-identity transpose,
anisotropic spacing (separate out-of-plane resampling).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from tests.peers.fixtures import nnunet_results  # noqa: F401  (pytest fixture)
from tests.peers.nnunet_folder import make_case

pytest.importorskip("nnunetv2")


@pytest.mark.parametrize("scheme,use_mask,transpose,spacing", [
    ("CTNormalization", False, [0, 1, 2], (1.0, 1.0, 1.0)),
    ("ZScoreNormalization", False, [2, 0, 1], (1.2, 0.9, 1.0)),
    ("ZScoreNormalization", True, [1, 2, 0], (4.0, 0.8, 0.8)),
])
def test_preprocess_matches_nnunet(nnunet_results, scheme, use_mask, transpose, spacing):  # noqa: F811
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from engine.inference import nnunet as nn
    from engine.models.importers.nnunet import adapter_dict
    from engine.models.nnunet import NnUNetAdapter

    plans = copy.deepcopy(json.loads((nnunet_results / "plans.json").read_text()))
    dataset = json.loads((nnunet_results / "dataset.json").read_text())
    cfg = plans["configurations"]["3d_fullres"]
    cfg["normalization_schemes"], cfg["use_mask_for_norm"] = [scheme], [use_mask]
    plans["transpose_forward"] = transpose
    plans["transpose_backward"] = [int(i) for i in np.argsort(transpose)]
    image, _ = make_case(84, (20, 26, 22))
    image = image * 4.0 - 300.0 * (scheme == "CTNormalization")       # CT-like values below zero too
    image[:2] = 0
    pm = PlansManager(plans)
    theirs, _, props = DefaultPreprocessor(verbose=False).run_case_npy(
        image[None].copy(), None, {"spacing": list(spacing)}, pm, pm.get_configuration("3d_fullres"), dataset)
    ad = NnUNetAdapter.from_dict(adapter_dict(plans, "3d_fullres", None, (0, 1, 2), None, None))
    ours = nn.preprocess(image, spacing, ad)
    assert [list(b) for b in ours.bbox] == [list(b) for b in props["bbox_used_for_cropping"]]
    assert ours.data.shape == theirs.shape
    assert np.abs(ours.data - theirs).max() <= 1e-5
