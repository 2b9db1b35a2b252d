"""Data for fine-tuning: corrections and regression cases on the model grid, splits, patches and
augmentation of the same family as the base training (``engine.synthesis.augment``).

A model package may ship a frozen **regression set**: ``<package>/regression/<case>_image.nii.gz``
with ``<case>_labels.nii.gz``, held-out cases that fine-tuning must not get worse on. It is only
ever evaluated before and after (the gate), never trained or selected on.

It may also ship a **rehearsal set** (``<package>/rehearsal/``, same layout): reference cases of the
base training distribution, distinct from the regression set. Fine-tuning replays them in every
batch (so the network keeps what it knew) and holds some out to choose the epoch.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter

from engine.errors import InputError, ModelError
from engine.inference.preprocess import IntensityStats, labels_to_model_grid, normalize, to_model_spacing
from engine.models.manifest import Manifest, Normalization
from engine.synthesis.fields import random_field
from engine.volume import Volume

log = logging.getLogger(__name__)

REGRESSION_DIR = "regression"
REHEARSAL_DIR = "rehearsal"


@dataclass
class Pair:
    """One case on the model grid: raw image, its normalisation statistics, labels, and (for a
    correction) where the person changed the AI's answer, which patches favour."""

    name: str
    raw: np.ndarray
    stats: IntensityStats
    labels: np.ndarray
    focus: np.ndarray  # flat indices of corrected voxels (may be empty)

    def normalized(self, cfg: Normalization) -> np.ndarray:
        return normalize_with(self.raw, self.stats, cfg)

    def edited(self, margin: int) -> np.ndarray:
        """Where the person changed the AI's answer, grown by ``margin`` voxels (a bool volume)."""
        mask = np.zeros(self.labels.shape, bool)
        mask.flat[self.focus] = True
        return binary_dilation(mask, iterations=margin) if margin > 0 and self.focus.size else mask


def normalize_with(raw: np.ndarray, stats: IntensityStats, cfg: Normalization) -> np.ndarray:
    """Normalise with statistics computed on the whole case (patches then match inference)."""
    if cfg.kind == "ct_window":
        return ((np.clip(raw, cfg.hu_min, cfg.hu_max) - cfg.hu_min) / (cfg.hu_max - cfg.hu_min)).astype(np.float32)
    return ((np.clip(raw, stats.lower, stats.upper) - stats.mean) / stats.std).astype(np.float32)


def prepare(name: str, image: Volume, labels: Volume, manifest: Manifest,
            ai: Volume | None = None) -> Pair:
    """Image and labels (and the AI's labels, for the focus) resampled onto the model grid."""
    if not labels.geometry.is_close(image.geometry):
        raise InputError(f"{name}: the label map is not on the image's grid")
    raw, grid = to_model_spacing(image, manifest.target_spacing)
    _, stats = normalize(raw, manifest.normalization)
    lab = labels_to_model_grid(labels, grid, manifest.num_classes)
    if lab.max(initial=0) >= manifest.num_classes:
        raise InputError(f"{name}: labels beyond the model's {manifest.num_classes - 1} classes")
    focus = np.empty(0, np.int64)
    if ai is not None:
        ai_lab = labels_to_model_grid(ai, grid, manifest.num_classes)
        focus = np.flatnonzero(ai_lab != lab)
    return Pair(name, raw, stats, lab, focus)


def split_items(items: list, val_fraction: float, seed: int) -> tuple[list, list]:
    """Train/validation split of queue items, keeping each study on one side (by pseudonym, else
    by image content), the same for the same queue and seed."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(item.study or item.image, []).append(item)
    keys = sorted(groups, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    n_val = 0 if len(keys) < 2 else max(1, int(round(val_fraction * len(keys))))
    val = [i for k in keys[:n_val] for i in groups[k]]
    train = [i for k in keys[n_val:] for i in groups[k]]
    return train, val


def _read_cases(folder: Path) -> list[tuple[str, Volume, Volume]]:
    import SimpleITK as sitk

    cases = []
    for image_path in sorted(folder.glob("*_image.nii.gz")) if folder.is_dir() else []:
        stem = image_path.name[: -len("_image.nii.gz")]
        label_path = folder / f"{stem}_labels.nii.gz"
        if not label_path.is_file():
            raise ModelError(f"{folder.name} case {stem} has no labels file")
        cases.append((stem, Volume.from_sitk(sitk.ReadImage(str(image_path))),
                      Volume.from_sitk(sitk.ReadImage(str(label_path)))))
    return cases


def load_regression_set(package: Path) -> list[tuple[str, Volume, Volume]]:
    """The package's frozen regression cases ``(name, image, labels)``; refuses when there are none."""
    cases = _read_cases(Path(package) / REGRESSION_DIR)
    if not cases:
        raise ModelError("this model ships no regression set (held-out cases in its 'regression' "
                         "folder); fine-tuning it is refused, since a worse version could not be caught")
    return cases


def load_rehearsal_set(package: Path | None) -> list[tuple[str, Volume, Volume]]:
    """The package's rehearsal cases ``(name, image, labels)``; empty when it ships none."""
    return [] if package is None else _read_cases(Path(package) / REHEARSAL_DIR)


def _write_cases(folder: Path, cases: list[tuple[str, Volume, Volume]]) -> None:
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    for name, image, labels in cases:
        sitk.WriteImage(image.to_sitk(), str(folder / f"{name}_image.nii.gz"), useCompression=True)
        sitk.WriteImage(labels.to_sitk(), str(folder / f"{name}_labels.nii.gz"), useCompression=True)


def write_regression_set(package: Path, cases: list[tuple[str, Volume, Volume]]) -> None:
    """Store held-out ``(name, image, labels)`` cases in a package (for whoever builds models)."""
    _write_cases(Path(package) / REGRESSION_DIR, cases)


def write_rehearsal_set(package: Path, cases: list[tuple[str, Volume, Volume]]) -> None:
    """Store reference cases of the base distribution for rehearsal (not the regression cases)."""
    _write_cases(Path(package) / REHEARSAL_DIR, cases)


def split_rehearsal(pairs: list[Pair], check_fraction: float) -> tuple[list[Pair], list[Pair]]:
    """Rehearsal cases to replay and (the last ``check_fraction``) to check forgetting with."""
    n_check = 0 if len(pairs) < 2 else max(1, int(round(check_fraction * len(pairs))))
    return pairs[: len(pairs) - n_check], pairs[len(pairs) - n_check:]


def augment_raw(rng: np.random.Generator, patch: np.ndarray, top: float) -> np.ndarray:
    """The base training's intensity family on a raw patch: bias field, gamma, blur, noise."""
    img = np.maximum(patch.astype(np.float32), 0.0)
    top = top if top > 0 else float(img.max()) or 1.0
    if rng.random() < 0.8:
        img = img * np.exp(random_field(rng, img.shape, 4, rng.uniform(0.05, 0.3)))
    img = (np.power(np.clip(img / top, 0, None), float(np.exp(rng.normal(0.0, 0.25)))) * top).astype(np.float32)
    if rng.random() < 0.6:
        img = gaussian_filter(img, rng.uniform(0.0, 0.7, 3)).astype(np.float32)
    img += rng.normal(0.0, rng.uniform(0.0, 0.06) * top, img.shape).astype(np.float32)
    return img


def sample_patch(rng: np.random.Generator, pair: Pair, patch: tuple[int, int, int],
                 focus_fraction: float = 0.6, edited: np.ndarray | None = None):
    """A ``patch`` crop (raw image, labels, edited mask): centred on a corrected voxel
    ``focus_fraction`` of the time, else on foreground, else anywhere; padded where the case is
    smaller than the patch. ``edited`` (a bool volume, e.g. :meth:`Pair.edited`) defaults to none."""
    shape = np.asarray(pair.labels.shape)
    if pair.focus.size and rng.random() < focus_fraction:
        centre = np.asarray(np.unravel_index(rng.choice(pair.focus), pair.labels.shape))
    else:
        fg = np.flatnonzero(pair.labels[::2, ::2, ::2])
        sub = pair.labels[::2, ::2, ::2].shape
        centre = (np.asarray(np.unravel_index(rng.choice(fg), sub)) * 2 if fg.size
                  else rng.integers(0, shape))
    centre = centre + rng.integers(-4, 5, 3)
    start = np.clip(centre - np.asarray(patch) // 2, 0, np.maximum(shape - patch, 0))
    sl = tuple(slice(int(a), int(a) + p) for a, p in zip(start, patch))
    img, lab = pair.raw[sl], pair.labels[sl]
    mask = edited[sl] if edited is not None else np.zeros(lab.shape, bool)
    pad = [(0, max(0, p - n)) for p, n in zip(patch, img.shape)]
    if any(p[1] for p in pad):
        img = np.pad(img, pad, constant_values=float(pair.raw.min()))
        lab, mask = np.pad(lab, pad), np.pad(mask, pad)
    return img, lab, mask
