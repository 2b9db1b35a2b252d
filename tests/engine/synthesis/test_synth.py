import numpy as np
import pytest

from engine.synthesis.lesions import paint_lesion
from engine.training.metrics import dice, lesion_detection
from engine.synthesis.synth import LESION, SynthConfig, generate_case, output_geometry, sample_patch
from engine.synthesis.template import load_template, read_raw_template, template_notice


@pytest.fixture(scope="module")
def template():
    return load_template(4.0)  # coarse grid keeps the tests fast; the model uses 2 mm


def test_template_maps_are_scaled_uint8_and_notice_is_kept():
    raw = read_raw_template()
    assert raw["t1"].dtype == np.uint8 and raw["gm"].max() == 255 and raw["t1"].shape == (189, 233, 197)
    assert "McConnell Brain Imaging Centre" in template_notice()


def test_same_seed_same_case_other_seed_other_case(template):
    a, b, c = generate_case(7, template), generate_case(7, template), generate_case(8, template)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)
    assert a.geometry == output_geometry(template) and a.image.shape == a.geometry.shape
    assert a.image.dtype == np.float32 and a.labels.dtype == np.uint8


def test_labels_follow_the_tissue_maps_and_lesions_are_labelled(template):
    cases = [generate_case(s, template) for s in range(6)]
    for case in cases:
        counts = np.bincount(case.labels.ravel(), minlength=4)
        assert counts[1] > 1000 and counts[2] > 500  # grey and white matter present
        brain = case.labels > 0
        # white matter is brighter than grey matter in a T1 image, whatever the augmentation did
        assert case.image[case.labels == 2].mean() > case.image[case.labels == 1].mean()
        assert not brain[0].any() or brain.mean() < 0.5
    with_lesions = [c for c in cases if c.lesions]
    assert with_lesions and all((c.labels == LESION).any() for c in with_lesions if
                                sum(l["voxels"] for l in c.lesions))
    scales = {round(c.augment["scale"]) for c in cases}
    assert len(scales) == len(cases)  # intensity scale varies


def test_paint_lesion_is_soft_and_has_the_asked_contrast():
    rng = np.random.default_rng(0)
    shape = (40, 40, 40)
    image = np.full(shape, 100.0, np.float32)
    labels = np.full(shape, 2, np.uint8)
    wm, gm = np.ones(shape, np.float32), np.zeros(shape, np.float32)
    info = paint_lesion(rng, image, labels, gm, wm, (20, 20, 20), 1.0, radius_mm=8, contrast=0.5, border_mm=1.5,
                        wm_level=100.0)
    core = image[18:23, 18:23, 18:23].mean()
    assert 45 < core < 62 and info["voxels"] == int((labels == LESION).sum()) > 300
    between = image[(image > 60) & (image < 90)]
    assert between.size > 50  # a soft border, not a hard edge
    assert not info["hyperintense"]


def test_sample_patch_shapes_and_lesion_centring(template):
    case = generate_case(3, template)
    rng = np.random.default_rng(0)
    x, y = sample_patch(rng, case.image, case.labels, (16, 16, 16), lesion_fraction=1.0)
    assert x.shape == y.shape == (16, 16, 16)
    if (case.labels == LESION).any():
        assert (y == LESION).any()
    x, y = sample_patch(rng, case.image[:10], case.labels[:10], (16, 16, 16))
    assert x.shape == (16, 16, 16)  # padded when the case is smaller than the patch


def test_metrics():
    truth = np.zeros((20, 20, 20), np.uint8)
    truth[2:6, 2:6, 2:6] = 3
    truth[12:15, 12:15, 12:15] = 3
    pred = np.zeros_like(truth)
    pred[2:6, 2:6, 3:7] = 3
    pred[0, 19, 19] = 3
    assert dice(pred, truth, 3) == pytest.approx(2 * 48 / (65 + 91))
    assert dice(pred, truth, 1) is None
    assert lesion_detection(pred, truth, 3) == {"lesions": 2, "detected": 1, "false_positive_blobs": 1}
    assert SynthConfig().max_lesions == 3
