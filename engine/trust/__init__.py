"""The trust layer: why (Grad-CAM), how sure (MC-Dropout, ensembles), whether to trust it (OOD).

Public API (the one analysis path; a plain segmentation is ``analyze(volume, model, SEGMENTATION)``)::

    from engine.trust import AnalysisOptions, SEGMENTATION, analyze
    result = analyze(volume, load_model("candor-brain-t1"),
                     AnalysisOptions(mc_samples=10, saliency_labels=(3,)), progress=..., cancel=...)
    result.labels                 # label Volume on the input grid
    result.label_report           # per label: id, name, colour, voxels, mL
    result.probabilities          # (K, z, y, x) float16 on the input grid, if asked for
    result.maps["epistemic"]      # uncertainty maps (total, aleatoric, epistemic[, disagreement])
    result.saliency[3]            # Grad-CAM of label 3, in [0, 1]
    result.ood.flag, result.ood.reasons, result.report()

Everything wraps the network (hooks, dropout context managers) without changing it.
"""

from engine._lazy import lazy_exports

# Names resolve lazily (PEP 562) so that torch-free parts (the CLI's argument definitions in
# ``engine.trust.cli_segment``) can be imported without torch, keeping `candor` start-up fast.
_WHERE = {
    "OODReport": "ood", "Check": "ood_checks",
    "MAP_KEYS": "options", "AnalysisOptions": "options", "SEGMENTATION": "options", "TrustOptions": "options",
    "AnalysisResult": "analysis", "TrustResult": "analysis", "analyze": "analysis",
    "MAP_NAMES": "pipeline", "ModelGridResult": "pipeline", "check_input": "pipeline",
    "model_grid_pass": "pipeline",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
