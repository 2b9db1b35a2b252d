"""Inference building blocks: preprocessing, the sliding window, model-grid prediction.

The one analysis path that uses them on a scan is :func:`engine.trust.analyze` (a plain
segmentation is ``analyze(volume, model, engine.trust.SEGMENTATION)``); nothing here loads a
model or writes a file. Public API::

    to_model_spacing, normalize, model_grid, resample_to_grid      # preprocess.py
    sliding_window, iter_patch_batches, PatchAccumulator, ...      # sliding_window.py
    predict_probabilities, ensemble_softmax, window_config, resolve_device   # predict.py
"""

from engine.inference.predict import ensemble_softmax, predict_probabilities, resolve_device, window_config
from engine.inference.preprocess import model_grid, normalize, resample_to_grid, to_model_spacing
from engine.inference.sliding_window import (PatchAccumulator, SlidingWindowConfig, gaussian_importance,
                                             iter_patch_batches, pad_to_patch, sliding_window, window_slices)

__all__ = [
    "PatchAccumulator", "SlidingWindowConfig", "ensemble_softmax", "gaussian_importance", "iter_patch_batches",
    "model_grid", "normalize", "pad_to_patch", "predict_probabilities", "resample_to_grid", "resolve_device",
    "sliding_window", "to_model_spacing", "window_config", "window_slices",
]
