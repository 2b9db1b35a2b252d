"""Rehearsal cases for fine-tuning: the base training distribution, replayed against forgetting.

Where they come from, in order:

1. the package's ``rehearsal`` folder (reference cases shipped with the model), else
2. the base training generator, when the manifest records it: models trained by
   ``engine.training`` on synthetic cases keep their generator settings in
   ``training.config.synth``, so fresh cases of that distribution (with seeds no training run
   uses) can be made on the spot, else
3. none: fine-tuning then learns from the corrections alone (and says so in the log).

The frozen regression set is never among them.
"""

from __future__ import annotations

import logging
from dataclasses import fields

from engine.corrections.finetune_data import Pair, load_rehearsal_set, prepare
from engine.jobs import report
from engine.models.manifest import Manifest

log = logging.getLogger(__name__)

REHEARSAL_SEED_BASE = 900_000_000  # far from the training (seed × stride + n) and validation seeds


def rehearsal_pairs(loaded, manifest: Manifest, generated_cases: int = 8, *, seed: int = 0,
                    cancel=None) -> tuple[list[Pair], str]:
    """Rehearsal cases on the model grid and where they came from (``package``, ``generator``
    or ``none``)."""
    shipped = load_rehearsal_set(loaded.path)
    if shipped:
        return [prepare(n, image, labels, manifest) for n, image, labels in shipped], "package"
    synth = _synth_settings(manifest)
    if synth is None or generated_cases <= 0:
        return [], "none"
    return _generated(manifest, synth, generated_cases, seed, cancel), "generator"


def _synth_settings(manifest: Manifest):
    """The base training's generator settings, if the manifest records them."""
    config = (manifest.training or {}).get("config") or {}
    synth = config.get("synth")
    if not isinstance(synth, dict):
        return None
    from engine.synthesis.synth import SynthConfig

    known = {f.name for f in fields(SynthConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in synth.items() if k in known}
    try:
        return SynthConfig(**values)
    except (TypeError, ValueError):
        log.warning("the model's generator settings are unreadable; no generated rehearsal cases")
        return None


def _generated(manifest: Manifest, synth, cases: int, seed: int, cancel) -> list[Pair]:
    from engine.synthesis.synth import generate_case
    from engine.synthesis.template import load_template
    from engine.volume import Volume

    template = load_template(manifest.target_spacing[0])
    pairs = []
    for n in range(cases):
        report(None, cancel, 0.0)
        case = generate_case(REHEARSAL_SEED_BASE + seed * 1000 + n, template, synth)
        image = Volume(case.image, case.geometry, manifest.modality)
        pairs.append(prepare(f"generated-{n}", image, image.with_array(case.labels), manifest))
    log.info("generated %d rehearsal cases from the base training generator", cases)
    return pairs
