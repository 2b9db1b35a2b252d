"""The trust layer: why (Grad-CAM), how sure (MC-Dropout, ensembles), whether to trust it (OOD).

Public API::

    from engine.trust import TrustOptions, analyze
    result = analyze(volume, load_model("candor-brain-t1"),
                     TrustOptions(mc_samples=10, saliency_labels=(3,)), progress=..., cancel=...)
    result.labels                 # label Volume on the input grid
    result.maps["epistemic"]      # uncertainty maps (total, aleatoric, epistemic[, disagreement])
    result.saliency[3]            # Grad-CAM of label 3, in [0, 1]
    result.ood.flag, result.ood.reasons, result.report()

Everything wraps the network (hooks, dropout context managers) without changing it.
"""

from engine.trust.ood import OODReport
from engine.trust.ood_checks import Check
from engine.trust.pipeline import (MAP_NAMES, ModelGridResult, TrustOptions, TrustResult, analyze, check_input,
                                   model_grid_pass)

__all__ = ["MAP_NAMES", "Check", "ModelGridResult", "OODReport", "TrustOptions", "TrustResult", "analyze",
           "check_input", "model_grid_pass"]
