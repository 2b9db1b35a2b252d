"""Evaluation metrics: Dice, lesion-wise detection, size-stratified detection."""

import numpy as np

from engine.training.metrics import dice, lesion_detection, lesion_detection_by_size


def _two_lesions():
    truth = np.zeros((20, 20, 20), np.uint8)
    truth[2:4, 2:4, 2:4] = 3          # 8 voxels = 0.064 mL at 2 mm: the smallest bin
    truth[10:16, 10:16, 10:16] = 3    # 216 voxels = 1.728 mL: the 0.5-2 mL bin
    pred = np.zeros_like(truth)
    pred[12:14, 12:14, 12:14] = 3     # finds the large one only
    pred[18:20, 0:2, 0:2] = 3         # and one blob where there is no lesion
    return pred, truth


def test_size_stratified_detection_counts_each_lesion_in_its_bin():
    pred, truth = _two_lesions()
    bins = lesion_detection_by_size(pred, truth, 3, voxel_ml=0.008)
    assert [(b["lesions"], b["detected"]) for b in bins] == [(1, 0), (1, 1), (0, 0), (0, 0)]
    assert bins[0]["min_ml"] == 0.0 and bins[-1]["max_ml"] is None
    overall = lesion_detection(pred, truth, 3)
    assert overall == {"lesions": 2, "detected": 1, "false_positive_blobs": 1}
    assert sum(b["detected"] for b in bins) == overall["detected"]


def test_dice_is_undefined_when_the_label_is_absent_from_both():
    pred, truth = _two_lesions()
    assert dice(pred, truth, 1) is None
    assert 0 < dice(pred, truth, 3) < 1
