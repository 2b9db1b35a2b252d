"""The post-processing and reorientation steps against the code deepbet itself runs (cc3d,
fill_voids, deepbet.utils.dilate, nibabel.as_closest_canonical) on generated inputs."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.transform import Rotation

from engine.extraction.orientation import from_canonical, to_canonical
from engine.extraction.postprocess import dilate, fill_holes, largest_component
from engine.volume import Geometry


def _blobs(seed: int, shape=(24, 20, 28)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 1.5) > 0.12


@pytest.mark.parametrize("seed", range(4))
def test_largest_component_matches_deepbet(seed):
    utils = pytest.importorskip("deepbet.utils")
    mask = _blobs(seed)
    assert ndimage.label(mask, np.ones((3, 3, 3)))[1] > 2  # several components to choose from
    want = utils.keep_largest_connected_component(mask.astype(np.float32)) > 0
    np.testing.assert_array_equal(largest_component(mask), want)


@pytest.mark.parametrize("seed", range(4))
def test_hole_filling_matches_fill_voids(seed):
    fill_voids = pytest.importorskip("fill_voids")
    mask = ~_blobs(seed + 10)  # background blobs become holes
    want = fill_voids.fill(mask.copy())
    assert want.sum() > mask.sum()
    np.testing.assert_array_equal(fill_holes(mask), want)


@pytest.mark.parametrize("n", [1, 2, -1, -2])
def test_dilation_matches_deepbet(n):
    utils = pytest.importorskip("deepbet.utils")
    mask = _blobs(7)
    mask[0, 5:9, 5:9] = True  # touching the array border
    want = utils.dilate(mask.copy(), n)
    got = dilate(mask, n)
    assert got.sum() != mask.sum()
    np.testing.assert_array_equal(got, want)


def test_canonical_array_matches_nibabel_on_oblique_and_permuted_grids():
    nib = pytest.importorskip("nibabel")
    rng = np.random.default_rng(0)
    for _ in range(60):
        d = np.zeros((3, 3))
        d[rng.permutation(3), np.arange(3)] = rng.choice([-1, 1], 3)
        d = Rotation.from_rotvec(rng.normal(size=3) * rng.choice([0.0, 0.3, 0.7])).as_matrix() @ d
        g = Geometry((4, 5, 6), tuple(rng.uniform(0.5, 2, 3)), (1, 2, 3), tuple(d.ravel()))
        arr = rng.normal(size=g.shape).astype(np.float32)
        img = nib.Nifti1Image(arr.transpose(2, 1, 0), np.diag([-1, -1, 1, 1.0]) @ g.affine_lps)
        want = nib.as_closest_canonical(img).get_fdata(dtype=np.float32)
        got = to_canonical(arr, g)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(from_canonical(got, g), arr)
