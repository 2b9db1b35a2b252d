"""Exact placement of sub-grids (flipped, permuted axes) agrees with nearest-neighbour resampling."""

from __future__ import annotations

import numpy as np
import pytest

from engine.export.grid import place_on_subgrid, resample_nearest
from engine.volume import Geometry, Volume

from .data import OBLIQUE


@pytest.mark.parametrize("perm, flips", [((0, 1, 2), (1, 1, 1)), ((0, 1, 2), (1, 1, -1)),
                                         ((1, 0, 2), (-1, 1, 1)), ((2, 0, 1), (1, -1, -1))])
def test_subgrid_placement_matches_resampling(perm, flips):
    g = OBLIQUE
    rng = np.random.default_rng(0)
    size = (7, 5, 4)                 # source extent along source axes
    m = g.matrix
    axes = np.column_stack([m[:, p] * f for p, f in zip(perm, flips)])
    spacing = [g.spacing[p] for p in perm]
    origin = g.index_to_physical([10, 10, 7])   # far enough inside for every flip
    src = Geometry(size, spacing, origin, axes.ravel())
    vol = Volume(rng.integers(1, 5, src.shape).astype(np.uint8), src, "SEG")
    placed = place_on_subgrid(vol, g)
    assert placed is not None and placed.shape == g.shape
    assert np.array_equal(placed, resample_nearest(vol, g))
    assert int((placed > 0).sum()) == int(np.prod(size))


def test_not_a_subgrid_returns_none():
    g = OBLIQUE
    half = Geometry(g.size, np.asarray(g.spacing) / 2, g.origin, g.direction)
    shifted = Geometry(g.size, g.spacing, g.index_to_physical([0.5, 0, 0]), g.direction)
    for other in (half, shifted):
        assert place_on_subgrid(Volume(np.ones(other.shape, np.uint8), other), g) is None
