"""Where fine-tuning's rehearsal cases come from, and how a batch mixes them with corrections."""

from __future__ import annotations

import numpy as np

from engine.corrections.finetune_data import prepare, split_rehearsal, write_rehearsal_set
from engine.corrections.finetune_rehearsal import rehearsal_pairs
from engine.corrections.finetune_train import FinetuneConfig, _batch
from engine.labels import LabelInfo, LabelTable
from engine.models.manifest import Normalization
from tests.engine.corrections import lesion_task as task


class _Loaded:
    def __init__(self, path):
        self.path = path


def test_shipped_rehearsal_cases_come_first_and_keep_their_labels(tmp_path):
    m = task.manifest()
    cases = [(f"h{i}", img, truth) for i, (img, truth, _) in
             enumerate(task.make_case(40 + i, 2, 0) for i in range(3))]
    write_rehearsal_set(tmp_path, cases)
    pairs, source = rehearsal_pairs(_Loaded(tmp_path), m)
    assert source == "package" and [p.name for p in pairs] == ["h0", "h1", "h2"]
    np.testing.assert_array_equal(pairs[1].labels, cases[1][2].array)
    replay, check = split_rehearsal(pairs, 0.34)
    assert [p.name for p in replay] == ["h0", "h1"] and [p.name for p in check] == ["h2"]


def test_without_a_rehearsal_folder_the_base_generator_makes_cases(tmp_path):
    synth = {"max_lesions": 2, "lesion_probability": 1.0, "lesion_radius_mm": [4.0, 8.0],
             "unknown_future_setting": 3}
    labels = LabelTable([LabelInfo(1, "GM", (1, 1, 1)), LabelInfo(2, "WM", (2, 2, 2)),
                         LabelInfo(3, "Lesion", (3, 3, 3))])
    m = task.manifest().evolve(name="gen", target_spacing=(4.0, 4.0, 4.0), labels=labels,
                               normalization=Normalization(), training={"config": {"synth": synth}})
    pairs, source = rehearsal_pairs(_Loaded(tmp_path), m, 2)
    assert source == "generator" and len(pairs) == 2
    assert not np.array_equal(pairs[0].raw, pairs[1].raw)
    assert {0, 1, 2, 3} <= set(np.unique(pairs[0].labels)) and pairs[0].focus.size == 0
    # a model with no recorded generator and no folder: none (fine-tuning then says so)
    assert rehearsal_pairs(_Loaded(tmp_path), task.manifest()) == ([], "none")


def test_a_batch_holds_corrections_and_rehearsal_cases_with_edits_weighted():
    m = task.manifest()
    image, truth, bright = task.make_case(7, 1, 2)
    correction = prepare("c", image, truth, m, ai=image.with_array(bright.array))
    assert correction.focus.size == int((truth.array != bright.array).sum()) > 0
    img2, truth2, _ = task.make_case(8, 2, 0)
    rehearsal = [prepare("h", img2, truth2, m)]
    cfg = FinetuneConfig(batch_size=2, rehearsal_per_batch=2, edit_weight=4.0, edit_margin=1)
    x, y, w = _batch(np.random.default_rng(0), [correction], m, cfg, rehearsal)
    assert x.shape[0] == y.shape[0] == w.shape[0] == 4
    # the corrections (first two) weigh their edited voxels, grown by a margin; replayed cases don't
    assert float(w[:2].max()) == 4.0 and int((w[0] == 4.0).sum()) > correction.focus.size
    assert float(w[2:].max()) == 1.0
    assert set(np.unique(y[2:].numpy())) == {0, 1}
