import numpy as np
import pytest

from engine.inference import model_grid, normalize, to_model_spacing
from engine.models import Normalization
from engine.volume import Geometry, Volume


def _oblique_geometry(size=(20, 18, 12), spacing=(0.9, 1.1, 2.5)):
    a = np.deg2rad(20)
    direction = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    return Geometry(size, spacing, (-10.0, 5.0, 30.0), direction.ravel())


def test_model_grid_keeps_origin_direction_and_field_of_view():
    g = _oblique_geometry()
    m = model_grid(g, (2.0, 2.0, 2.0))
    assert m.origin == g.origin and m.direction == g.direction
    assert m.size == (9, 10, 15)


def test_resampling_preserves_physical_positions():
    g = _oblique_geometry(size=(40, 40, 20), spacing=(1.0, 1.0, 1.0))
    vol = Volume(np.zeros(g.shape, np.float32), g)
    # a bright blob at a known physical point
    centre_ijk = np.array([20, 22, 10])
    vol.array[centre_ijk[2] - 2:centre_ijk[2] + 3, centre_ijk[1] - 2:centre_ijk[1] + 3,
              centre_ijk[0] - 2:centre_ijk[0] + 3] = 100
    arr, grid = to_model_spacing(vol, (2.0, 2.0, 2.0))
    assert arr.dtype == np.float32 and arr.shape == grid.shape
    peak = np.array(np.unravel_index(arr.argmax(), arr.shape))[::-1]
    err = np.linalg.norm(grid.index_to_physical(peak) - g.index_to_physical(centre_ijk))
    assert err <= 2.0


def test_percentile_zscore_is_scale_invariant_and_foreground_centred():
    rng = np.random.default_rng(0)
    img = np.zeros((30, 30, 30), np.float32)
    img[5:25, 5:25, 5:25] = rng.normal(100, 10, (20, 20, 20))
    a, sa = normalize(img, Normalization())
    b, sb = normalize(img * 37.0 + 0.0, Normalization())
    np.testing.assert_allclose(a, b, atol=1e-4)
    fg = img > 20
    assert abs(a[fg].mean()) < 0.05 and a[fg].std() == pytest.approx(1.0, abs=0.05)
    assert 0.25 < sa.foreground_fraction < 0.35


def test_upper_headroom_keeps_a_bright_spot_above_the_brightest_tissue():
    rng = np.random.default_rng(1)
    img = np.zeros((30, 30, 30), np.float32)
    img[5:25, 5:25, 5:25] = rng.normal(100, 5, (20, 20, 20))
    img[14:16, 14:16, 14:16] = 160.0  # a small hyper-intense "lesion": 8 of 8000 foreground voxels
    plain, sp = normalize(img, Normalization())
    roomy, sr = normalize(img, Normalization(upper_headroom=0.5))
    lesion = np.zeros(img.shape, bool)
    lesion[14:16, 14:16, 14:16] = True
    tissue = (img > 20) & ~lesion
    assert plain[lesion].min() == pytest.approx(plain[tissue].max())  # flattened onto the tissue's top
    assert roomy[lesion].min() > roomy[tissue].max() + 1.0  # kept apart, in z-score units
    assert (sr.mean, sr.std) == (sp.mean, sp.std)  # the statistics do not change
    np.testing.assert_array_equal(plain[tissue & (img < sp.upper)], roomy[tissue & (img < sp.upper)])
    with pytest.raises(Exception, match="upper_headroom"):
        Normalization(upper_headroom=-1)


def test_ct_window():
    out, _ = normalize(np.array([[[-2000, 0, 500, 3000]]], np.float32), Normalization("ct_window", hu_min=-1000,
                                                                                          hu_max=1000))
    np.testing.assert_allclose(out.ravel(), [0, 0.5, 0.75, 1.0])


def test_prepare_pair_keeps_image_and_labels_aligned():
    from engine.inference.preprocess import prepare_pair

    g = Geometry((40, 40, 20), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    img = np.zeros(g.shape, np.float32)
    lab = np.zeros(g.shape, np.uint8)
    img[5:15, 10:30, 10:30] = 100
    lab[5:15, 10:30, 10:30] = 2
    image, labels, grid = prepare_pair(Volume(img, g), Volume(lab, g), (2.0, 2.0, 2.0), Normalization(), 3)
    assert image.shape == labels.shape == grid.shape == (20, 20, 20)
    assert set(np.unique(labels)) == {0, 2}
    assert image[labels == 2].mean() > image[labels == 0].mean() + 1.0
    assert 0.8 < (labels == 2).sum() * 8 / ((lab == 2).sum() * 2) < 1.2  # same volume in mm³
