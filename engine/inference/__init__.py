"""Inference: preprocessing, sliding-window inference, and ``segment()``.

Public API::

    from engine.inference import segment, SegmentationResult
    result = segment(volume, "candor-brain-t1", device="auto", progress=..., cancel=...)
    result.labels          # uint8 Volume on the input's exact grid
    result.probabilities   # (K, z, y, x) float16 on the input grid (K = background + labels)
    result.report          # model, labels (voxels, mL), warnings, timings

Building blocks for other per-patch computations (trust maps): ``sliding_window``,
``iter_patch_batches``, ``PatchAccumulator``, ``window_slices``, ``gaussian_importance``,
``predict_probabilities``, ``to_model_spacing``, ``normalize``, ``probabilities_to_input_grid``.
"""

from engine.inference.predict import ensemble_softmax, predict_probabilities, resolve_device, window_config
from engine.inference.preprocess import model_grid, normalize, resample_to_grid, to_model_spacing
from engine.inference.segment import SegmentationResult, input_warnings, probabilities_to_input_grid, segment
from engine.inference.sliding_window import (PatchAccumulator, SlidingWindowConfig, gaussian_importance,
                                             iter_patch_batches, pad_to_patch, sliding_window, window_slices)

__all__ = [
    "PatchAccumulator", "SegmentationResult", "SlidingWindowConfig", "ensemble_softmax", "gaussian_importance",
    "input_warnings", "iter_patch_batches", "model_grid", "normalize", "pad_to_patch", "predict_probabilities",
    "probabilities_to_input_grid", "resample_to_grid", "resolve_device", "segment", "sliding_window",
    "to_model_spacing", "window_slices",
]
