"""What one analysis computes: :class:`AnalysisOptions` and the plain-segmentation preset.

``analyze(volume, model, options)`` (``engine.trust.analysis``) is the one analysis path; the
options only switch extras on or off:

* ``mc_samples`` MC-Dropout passes per member (``1`` = no dropout, one deterministic prediction);
  ``use_ensemble`` all members of the package averaged (``False``: the primary member only).
* ``saliency_labels`` Grad-CAM of these labels (empty = none), ``saliency_layer``, ``faithfulness``
  (the deletion check), ``roi`` (a region any grid) limiting Grad-CAM to its non-zero voxels.
* ``maps`` the uncertainty maps mapped back onto the input grid (a subset of :data:`MAP_KEYS`;
  empty = none: they are still computed on the model grid for the OOD scores).
* ``probabilities`` also return the class probabilities on the input grid (float16).
* ``calibrated`` divide logits by the manifest's temperature (``False``: the raw softmax).
* ``mirroring`` test-time mirroring of models that declare it (nnU-Net: its allowed axes);
  ``None`` = the model's own default.

:data:`SEGMENTATION` is a deterministic segmentation: every member's softmax averaged, no dropout,
no temperature, no maps — the numbers the former ``engine.inference.segment()`` produced.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.volume import Volume

#: Uncertainty maps in their fixed order (the CLI's vector image components follow it).
MAP_KEYS = ("total", "aleatoric", "epistemic", "disagreement")


@dataclass(frozen=True)
class AnalysisOptions:
    """What to compute (see the module docstring)."""

    mc_samples: int = 10
    use_ensemble: bool = True
    saliency_labels: tuple[int, ...] = ()
    saliency_layer: str | None = None
    faithfulness: bool = False
    tail_stages: int | None = None
    seed: int = 0
    calibrated: bool = True
    device: str = "auto"
    roi: Volume | None = None       # optional Grad-CAM region (non-zero voxels), any grid
    maps: tuple[str, ...] = MAP_KEYS
    probabilities: bool = False
    mirroring: bool | None = None
    #: stop with :class:`engine.errors.Unsuitable` before any network pass when a hard input
    #: check fires (the CLI without ``--force``); off: run and report the checks in the OOD verdict
    refuse_unsuitable: bool = False

    def __post_init__(self) -> None:
        from engine.errors import InputError

        if int(self.mc_samples) < 1:
            raise InputError("mc_samples must be at least 1")
        unknown = sorted(set(self.maps) - set(MAP_KEYS))
        if unknown:
            raise InputError(f"unknown uncertainty maps {unknown} (known: {', '.join(MAP_KEYS)})")


#: The options of the viewer, selftest and tests until now (kept so their imports keep working).
TrustOptions = AnalysisOptions

#: A deterministic segmentation: all members averaged, no dropout, no temperature, no maps.
SEGMENTATION = AnalysisOptions(mc_samples=1, use_ensemble=True, calibrated=False, maps=())
