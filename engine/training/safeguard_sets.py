"""Write the frozen regression set and the rehearsal set that ship inside a model package.

``candor finetune`` refuses a package without a regression set (held-out cases it evaluates
before and after every fine-tuning, never trains on) and replays the rehearsal cases (the base
training distribution) so fine-tuning on corrections does not forget the rest. Both are generated
cases of the base generator (``engine/synthesis/synth.py``, the manifest's settings at its target
spacing) on seeds no training, validation or evaluation run uses.

    python -m engine.training.safeguard_sets resources/models/candor-brain-t1
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from engine.corrections.finetune_data import write_regression_set, write_rehearsal_set
from engine.models import load_manifest
from engine.synthesis.synth import SynthConfig, generate_case
from engine.synthesis.template import load_template
from engine.volume import Volume

log = logging.getLogger(__name__)

REGRESSION_SEED_BASE = 910_000_000   # frozen regression cases
REHEARSAL_SEED_BASE = 920_000_000    # rehearsal cases
#: Stored images are int16 (the generator's float intensities × 10, rounded: a step of 0.1 on a
#: range of about -20..210), which halves what the package ships; the stored values are the case.
INTENSITY_SCALE = 10.0


def generated_cases(seed_base: int, count: int, spacing: float, prefix: str) -> list[tuple[str, Volume, Volume]]:
    template = load_template(spacing)
    out = []
    for i in range(count):
        case = generate_case(seed_base + i, template, SynthConfig())
        stored = np.round(case.image * INTENSITY_SCALE).astype(np.int16)
        image = Volume(stored, case.geometry, "MR")
        out.append((f"{prefix}{i:02d}", image, image.with_array(case.labels)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="model package folder")
    parser.add_argument("--regression", type=int, default=3, help="regression cases (default 3)")
    parser.add_argument("--rehearsal", type=int, default=0,
                        help="rehearsal cases to ship (default 0: fine-tuning then generates them with the "
                             "base generator, which costs nothing to ship)")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.package / "manifest.json")
    spacing = float(manifest.target_spacing[0])
    write_regression_set(args.package, generated_cases(REGRESSION_SEED_BASE, args.regression, spacing, "reg"))
    if args.rehearsal:
        write_rehearsal_set(args.package, generated_cases(REHEARSAL_SEED_BASE, args.rehearsal, spacing, "reh"))
    print(f"wrote {args.regression} regression and {args.rehearsal} rehearsal cases into {args.package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
