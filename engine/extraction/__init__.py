"""Brain extraction: a brain mask on the input's grid from an imported deepbet package.

``load_extraction_model(spec)`` → :class:`ExtractionModel` (safetensors only; the package comes
from ``candor models import deepbet --allow-torchscript``), then
``extract_brain(volume, model, n_dilate=None, progress=, cancel=)`` → uint8 mask ``Volume``
reproducing deepbet's own pipeline (see ``pipeline``); ``brain_probability``/``postprocess`` are
its two halves on the canonical array.
"""

from engine.extraction.model import ExtractionModel, ExtractionParams, load_extraction_model
from engine.extraction.pipeline import brain_probability, extract_brain, postprocess

__all__ = ["ExtractionModel", "ExtractionParams", "brain_probability", "extract_brain",
           "load_extraction_model", "postprocess"]
