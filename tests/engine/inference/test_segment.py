import numpy as np
import pytest

from engine.errors import Cancelled, InputError
from engine.inference import segment
from engine.jobs import JobRunner, JobState
from engine.models import load_model
from engine.volume import Geometry, Volume
from tests.engine.models.tiny import write_tiny_package


@pytest.fixture
def tiny_model(tmp_path):
    return load_model(write_tiny_package(tmp_path / "tiny", members=2))


def _volume(modality="MR"):
    rng = np.random.default_rng(0)
    a = np.deg2rad(15)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    g = Geometry((37, 30, 14), (0.8, 0.8, 3.0), (12.5, -40.0, 7.0), direction.ravel())
    arr = rng.normal(500, 50, g.shape).astype(np.int16)
    arr[4:10, 8:20, 10:25] += 400
    return Volume(arr, g, modality, {"series_uid": "1.2.3"})


def test_segment_returns_results_on_the_exact_input_grid(tiny_model):
    vol = _volume()
    result = segment(vol, tiny_model, device="cpu")
    assert result.labels.geometry == vol.geometry
    assert result.labels.array.dtype == np.uint8 and result.labels.array.shape == vol.array.shape
    assert result.probabilities.shape == (3, *vol.array.shape) and result.probabilities.dtype == np.float16
    np.testing.assert_allclose(result.probabilities.astype(np.float32).sum(0), 1.0, atol=5e-3)
    np.testing.assert_array_equal(result.labels.array, result.probabilities.argmax(0))
    rep = result.report
    assert rep["model"] == {"name": "tiny-test", "version": "0.1.0", "parent_version": None, "members_used": 2,
                            "task": "test segmentation"}
    assert [l["name"] for l in rep["labels"]] == ["Bright", "Dark"]
    for entry in rep["labels"]:
        assert entry["voxels"] == int((result.labels.array == entry["id"]).sum())
        assert entry["volume_ml"] == pytest.approx(entry["voxels"] * 0.8 * 0.8 * 3.0 / 1000, abs=1e-3)
    assert set(rep["timings"]) >= {"preprocess_s", "inference_s", "postprocess_s", "total_s"}
    assert rep["warnings"] == [] and rep["model_grid"]["spacing"] == [2.0, 2.0, 2.0]
    assert result.probability(1).geometry == vol.geometry


def test_members_and_modality_warning(tiny_model):
    one = segment(_volume("CT"), tiny_model, device="cpu", members=1)
    both = segment(_volume("CT"), tiny_model, device="cpu")
    assert one.report["model"]["members_used"] == 1
    assert not np.array_equal(one.probabilities, both.probabilities)
    assert any("CT" in w and "MR" in w for w in both.report["warnings"])


def test_bad_device_and_input_are_clear_errors(tiny_model):
    with pytest.raises(InputError, match="unknown device"):
        segment(_volume(), tiny_model, device="tpu")
    g = Geometry((10, 10, 1), (1, 1, 1), (0, 0, 0))
    with pytest.raises(InputError, match="too small"):
        segment(Volume(np.zeros(g.shape, np.float32), g), tiny_model, device="cpu")


def test_segmentation_job_reports_progress_and_cancels(tiny_model):
    runner = JobRunner()
    try:
        events = []
        job = runner.submit(segment, _volume(), tiny_model, device="cpu", on_progress=events.append)
        result = job.result(timeout=120)
        assert job.state is JobState.DONE and result.labels.geometry == _volume().geometry
        fractions = [e.fraction for e in events]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert {"inference", "done"} <= {e.stage for e in events}

        def cancel_on_inference(event):
            if event.stage == "inference" and event.fraction > 0.1:
                job2.cancel()

        job2 = runner.submit(segment, _volume(), tiny_model, device="cpu", on_progress=cancel_on_inference)
        with pytest.raises(Cancelled):
            job2.result(timeout=120)
        assert job2.state is JobState.CANCELLED
    finally:
        runner.shutdown()
