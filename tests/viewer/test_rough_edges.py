"""Rough edges of issue 20: most-uncertain slice ranking, Explain progress text, export filename,
header windows that clip the foreground."""

from __future__ import annotations

import numpy as np

from viewer.qt.uncertainty_strip import (
    MIN_FOREGROUND_VOXELS,
    UncertaintyStrip,
    per_slice_foreground_means,
    per_slice_means,
)


def _uncertainty_case():
    """Axial slice 1: empty above the head (background noise 0.08 everywhere, 3 voxels of mask at
    0.9); slice 5: the lesion, 60 mask voxels at 0.256, the rest of the slice 0."""
    shape = (8, 20, 20)
    unc = np.zeros(shape, np.float32)
    fg = np.zeros(shape, bool)
    unc[1] = 0.08
    fg[1, 0, :3] = True
    unc[1, 0, :3] = 0.9
    fg[5, 5:11, 5:15] = True                # 60 voxels
    unc[5, 5:11, 5:15] = 0.256
    for z in (3, 4, 6):                     # the rest of the head: segmented, sure
        fg[z, 5:11, 5:15] = True
        unc[z, 5:11, 5:15] = 0.02
    return unc, fg


def test_most_uncertain_slice_ranks_by_the_foreground_not_an_empty_slice(qtbot):
    unc, fg = _uncertainty_case()
    plain = per_slice_means(unc, "axial")
    assert int(np.argmax(plain)) == 1       # the old statistic: the empty slice wins
    ranking = per_slice_foreground_means(unc, fg, "axial")
    assert np.isnan(ranking[1]) and np.isnan(ranking[0])     # 3 < MIN_FOREGROUND_VOXELS, 0 voxels
    assert 3 < MIN_FOREGROUND_VOXELS <= 60
    assert np.isclose(ranking[5], 0.256) and np.isclose(ranking[4], 0.02)
    strip = UncertaintyStrip("axial")
    qtbot.addWidget(strip)
    strip.set_values(plain, ranking=ranking)
    assert strip.most_uncertain == 5
    strip.set_values(plain, ranking=np.full_like(ranking, np.nan))   # nothing segmented
    assert strip.most_uncertain == 1
    strip.set_values(None)
    assert strip.most_uncertain is None and strip.ranking is None
