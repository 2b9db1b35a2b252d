"""The one analysis path: ``analyze(volume, model, options)`` on a tiny real two-member model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.errors import InputError
from engine.trust import SEGMENTATION, AnalysisOptions, analyze
from engine.volume import Geometry, Volume

PLAIN = replace(SEGMENTATION, device="cpu")


def _oblique_volume(modality="MR"):
    """Anisotropic, rotated, off-grid: the way back to the input grid really resamples."""
    rng = np.random.default_rng(0)
    a = np.deg2rad(15)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    g = Geometry((37, 30, 14), (0.8, 0.8, 3.0), (12.5, -40.0, 7.0), direction.ravel())
    arr = rng.normal(500, 50, g.shape).astype(np.int16)
    arr[4:10, 8:20, 10:25] += 400
    return Volume(arr, g, modality, {"series_uid": "1.2.3", "patient_name": "Doe^Jane"})


def _reference_segmentation(vol, model):
    """Written out here as the former ``segment()`` did it: ensemble mean softmax on the model grid
    (``predict_probabilities``), each class resampled linearly by SimpleITK onto the input grid, argmax."""
    import SimpleITK as sitk

    from engine.inference import normalize, predict_probabilities, to_model_spacing, window_config

    raw, grid = to_model_spacing(vol, model.manifest.target_spacing)
    image, _ = normalize(raw, model.manifest.normalization)
    probs = predict_probabilities(image, model.networks, window_config(model.manifest))
    reference = sitk.GetImageFromArray(np.zeros(vol.array.shape, np.float32))
    reference.SetSpacing(vol.spacing)
    reference.SetOrigin(vol.geometry.origin)
    reference.SetDirection(vol.geometry.direction)
    out = []
    for c in range(probs.shape[0]):
        src = sitk.GetImageFromArray(probs[c])
        src.SetSpacing(grid.spacing)
        src.SetOrigin(grid.origin)
        src.SetDirection(grid.direction)
        res = sitk.Resample(src, reference, sitk.Transform(), sitk.sitkLinear, 1.0 if c == 0 else 0.0)
        out.append(sitk.GetArrayFromImage(res))
    return np.stack(out)


def test_deterministic_analysis_equals_the_former_segment(tiny_model):
    vol = _oblique_volume()
    expected = _reference_segmentation(vol, tiny_model)
    new = analyze(vol, tiny_model, replace(PLAIN, probabilities=True))
    # ties broken towards the lower class, as argmax does
    np.testing.assert_array_equal(new.labels.array, expected.argmax(0))
    # exp(log_softmax) vs softmax, stored as float16: at most one float16 step apart
    np.testing.assert_allclose(new.probabilities.astype(np.float32), expected, atol=1e-3)
    assert new.model["members_used"] == 2 and new.maps == {} and new.saliency == {}


def test_the_result_names_the_weights_it_came_from(tiny_model):
    """Provenance: the hash the correction queue and the viewer's layers record, of the files on disk."""
    import hashlib

    result = analyze(_oblique_volume(), tiny_model, PLAIN)
    digest = hashlib.sha256()
    for member in tiny_model.manifest.members:
        digest.update((tiny_model.path / member).read_bytes())
    assert result.model["weights_hash"] == digest.hexdigest()


def test_result_on_the_input_grid_with_report_and_probabilities(tiny_model):
    vol = _oblique_volume()
    result = analyze(vol, tiny_model, replace(PLAIN, probabilities=True))
    assert result.labels.geometry == vol.geometry and result.labels.array.dtype == np.uint8
    assert result.probabilities.shape == (3, *vol.array.shape) and result.probabilities.dtype == np.float16
    np.testing.assert_allclose(result.probabilities.astype(np.float32).sum(0), 1.0, atol=5e-3)
    chosen = np.take_along_axis(result.probabilities, result.labels.array[None].astype(np.intp), 0)[0]
    np.testing.assert_array_equal(chosen, result.probabilities.max(0))   # argmax, up to float16 ties
    assert [e["name"] for e in result.label_report] == ["Alpha", "Beta"]
    for entry in result.label_report:
        assert entry["voxels"] == int((result.labels.array == entry["id"]).sum())
        assert entry["volume_ml"] == pytest.approx(entry["voxels"] * 0.8 * 0.8 * 3.0 / 1000, abs=1e-3)
    assert set(result.timings) >= {"preprocess_s", "sampling_s", "postprocess_s", "total_s"}
    assert result.model_grid.spacing == (2.0, 2.0, 2.0) and result.device == "cpu"
    assert result.probability(1).geometry == vol.geometry
    assert "patient_name" not in result.labels.metadata            # no patient data copied into results
    assert result.labels.metadata["label_table"] == result.table.to_list()


def test_probabilities_and_maps_only_when_asked(tiny_model, blob_volume):
    plain = analyze(blob_volume, tiny_model, PLAIN)
    assert plain.probabilities is None and plain.maps == {}
    with pytest.raises(InputError, match="not asked for"):
        plain.probability(1)
    some = analyze(blob_volume, tiny_model, AnalysisOptions(mc_samples=2, maps=("epistemic",), device="cpu"))
    assert set(some.maps) == {"epistemic"} and some.probabilities is None
    assert some.uncertainty["mean_total"] >= some.uncertainty["mean_epistemic"] >= 0   # summary still whole


def test_modality_mismatch_is_a_warning_with_its_reason(tiny_model):
    result = analyze(_oblique_volume("CT"), tiny_model, PLAIN)
    assert result.ood.flag and any("CT" in w and "MR" in w for w in result.warnings)


def test_bad_device_options_and_input_are_clear_errors(tiny_model):
    with pytest.raises(InputError, match="unknown device"):
        analyze(_oblique_volume(), tiny_model, replace(PLAIN, device="tpu"))
    g = Geometry((10, 10, 1), (1, 1, 1), (0, 0, 0))
    with pytest.raises(InputError, match="too small"):
        analyze(Volume(np.zeros(g.shape, np.float32), g), tiny_model, PLAIN)
    with pytest.raises(InputError, match="mc_samples"):
        AnalysisOptions(mc_samples=0)
    with pytest.raises(InputError, match="unknown uncertainty maps"):
        AnalysisOptions(maps=("variance",))


def test_analysis_job_reports_progress_and_cancels(tiny_model):
    from engine.errors import Cancelled
    from engine.jobs import JobRunner, JobState

    runner = JobRunner()
    try:
        events = []
        job = runner.submit(analyze, _oblique_volume(), tiny_model, PLAIN, on_progress=events.append)
        result = job.result(timeout=120)
        assert job.state is JobState.DONE and result.labels.geometry == _oblique_volume().geometry
        fractions = [e.fraction for e in events]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        stages = {e.stage for e in events}
        assert "done" in stages and any(s.startswith("segmenting") for s in stages)   # named

        def cancel_on_inference(event):
            if event.stage.startswith("segmenting") and event.fraction > 0.1:
                job2.cancel()

        job2 = runner.submit(analyze, _oblique_volume(), tiny_model, PLAIN, on_progress=cancel_on_inference)
        with pytest.raises(Cancelled):
            job2.result(timeout=120)
        assert job2.state is JobState.CANCELLED
    finally:
        runner.shutdown()


def test_a_brain_extraction_package_is_not_run_as_a_segmentation(tiny_model):
    """Its networks without its own pipeline would give a plausible-looking wrong mask (5,109 mL on the template)."""
    import pytest

    from engine.errors import InputError

    extraction = replace(tiny_model, manifest=replace(tiny_model.manifest, task="brain-extraction"))
    with pytest.raises(InputError, match="candor extract-brain"):
        analyze(_oblique_volume(), extraction, PLAIN)


def test_progress_is_a_share_of_time_so_the_eta_holds_within_30_percent(monkeypatch):
    """Fake clock: 2 s loading, 0.2 s preprocessing, a 10 s network pass reported per window,
    1.1 s of stages after it. From 20 % of the run on, every estimate is within ±30 % of the time
    that really remains (issue 16, target 4), and the fractions never go back."""
    import engine.jobs as jobs
    from engine.trust import analysis

    class Clock:
        now = 100.0

        def perf_counter(self):
            return self.now

    clock = Clock()
    monkeypatch.setattr(jobs, "time", clock)
    monkeypatch.setattr(analysis, "time", clock)
    job = jobs.Job(1, "analysis")
    job._start = clock.now
    events = []
    job.on_progress(lambda e: events.append((clock.now, e)))
    job._report(0.0, "loading the model")
    clock.now += 2.2
    shares = analysis._TimeShares(job._report, 0.2, maps=4)     # expects 0.2 × 5.65 s after
    for n in range(1, 21):
        clock.now += 0.5
        shares.network(n / 20, "segmenting")
    shares.after(0.0, "checking the output")
    clock.now += 0.55
    shares.after(0.5, "mapping back to the scan")
    clock.now += 0.55
    end, start = clock.now, 100.0
    fractions = [e.fraction for _t, e in events]
    assert fractions == sorted(fractions)
    checked = unknown = 0
    for t, e in events:
        remaining = end - t
        if t - start >= 0.2 * (end - start) and remaining >= 1.0:
            if e.eta_s is None:          # the report the throughput is first measured from
                unknown += 1
                continue
            assert e.eta_s == pytest.approx(remaining, rel=0.3), (t - start, e.stage)
            checked += 1
    assert checked >= 10 and unknown <= 1
