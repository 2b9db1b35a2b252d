"""Import deepbet's brain-extraction networks (TorchScript) as a Candor package (safetensors).

deepbet (Fisch et al., 2024; MIT) ships two traced TorchScript archives in its wheel:
``data/models/bbox_model.pt`` (a coarse mask on a 128³ grid, for the bounding box) and
``data/models/model.pt`` (the mask on a 256³ grid of the box). A TorchScript archive is code, so
it is read only here, only with ``allow_torchscript=True``, and only to take its tensors out: each
holds the 38 tensors of :class:`engine.models.linknet.LinkNet3D`; names, shapes and dtypes must
match exactly, and the rebuilt module must give the archive's output on a random input (max abs
difference ≤ :data:`MAX_ABS_DIFF`) before anything is written. The package holds the extraction
network as its member (``weights.safetensors``) and the box network as ``bbox.safetensors``
(named in ``training.pipeline.bbox_weights``); ``engine.extraction`` runs them.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
from pathlib import Path

import torch

from engine.errors import InputError, ModelError
from engine.labels import LabelInfo, LabelTable
from engine.models.importers import sha256_of, write_package
from engine.models.linknet import LinkNet3D
from engine.models.manifest import Architecture, Manifest, Normalization

log = logging.getLogger(__name__)

DISTRIBUTION = "deepbet"
FILES = {"extract": "model.pt", "bbox": "bbox_model.pt"}
BBOX_WEIGHTS = "bbox.safetensors"
MAX_ABS_DIFF = 1e-5
CHECK_SHAPE = (1, 1, 64, 64, 64)
CITATION = ("Fisch L, Zumdick S, Barkhau C, et al. deepbet: Fast brain extraction of T1-weighted MRI "
            "using Convolutional Neural Networks. Computers in Biology and Medicine 179:108845 (2024). "
            "doi:10.1016/j.compbiomed.2024.108845")
# deepbet/bet.py BrainExtraction.run / run_model / utils.normalize, as of deepbet 1.0.2
PIPELINE = {
    "kind": "deepbet", "bbox_weights": BBOX_WEIGHTS, "orientation": "RAS (closest canonical)",
    "bbox_shape": [128, 128, 128], "shape": [256, 256, 256], "interpolation": "nearest-exact",
    "bbox_margin": 0.1, "bbox_threshold": 0.5, "bbox_fraction": 0.02,
    "quantiles": [0.005, 0.995], "normalize_scale": 0.226, "normalize_shift": 0.449,
    "threshold": 0.5, "largest_component_connectivity": 26, "fill_holes": True, "n_dilate": 0,
}


def _installed() -> dict[str, Path] | None:
    """deepbet's two archives as the installed distribution lists them (None if not installed)."""
    try:
        dist = md.distribution(DISTRIBUTION)
    except md.PackageNotFoundError:
        return None
    found = {f.name: Path(str(dist.locate_file(f))) for f in dist.files or () if f.name in FILES.values()}
    return {k: found[v] for k, v in FILES.items()} if all(v in found for v in FILES.values()) else None


def _resolve(source: Path) -> dict[str, Path] | None:
    if str(source) == DISTRIBUTION and not source.exists():
        return _installed()
    if source.is_file() and source.name in FILES.values():
        source = source.parent
    for folder in (source, source / "models", source / "data" / "models"):
        if folder.is_dir() and all((folder / f).is_file() for f in FILES.values()):
            return {k: folder / v for k, v in FILES.items()}
    return None


def detect(source: Path) -> bool:
    """The word ``deepbet`` (installed), a folder holding ``model.pt`` and ``bbox_model.pt``, or one of them."""
    return _resolve(Path(source)) is not None


def _provenance(files: dict[str, Path], hashes: dict[str, str]) -> tuple[str, str]:
    """(version, licence) from the installed distribution when these are its files, else unknown."""
    installed = _installed()
    if installed is None or any(sha256_of(installed[k]) != hashes[k] for k in FILES):
        return "unknown", "MIT (deepbet; copyright line not found: check the source's LICENSE)"
    dist = md.distribution(DISTRIBUTION)
    text = dist.read_text("LICENSE") or ""
    copyright_line = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("Copyright")), "")
    return dist.version, f"MIT License. {copyright_line}".strip()


def _tensors(archive: torch.jit.ScriptModule, what: str) -> dict[str, torch.Tensor]:
    """The archive's tensors, refused unless they are exactly LinkNet3D's (names, shapes, float32)."""
    state = {k: v.detach().clone() for k, v in archive.state_dict().items()}
    want = LinkNet3D().state_dict()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    if missing or extra:
        raise ModelError(f"{what} is not the deepbet network Candor knows: missing tensors {missing[:3]}, "
                         f"unexpected {extra[:3]} ({len(state)} tensors, expected {len(want)})")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(want[key].shape) or tensor.dtype != torch.float32:
            raise ModelError(f"{what}: tensor {key} is {tuple(tensor.shape)} {tensor.dtype}, expected "
                             f"{tuple(want[key].shape)} float32")
    return state


def _rebuild(path: Path, what: str) -> tuple[LinkNet3D, float]:
    """LinkNet3D with the archive's tensors, and its max abs difference from the archive's output."""
    archive = torch.jit.load(str(path), map_location="cpu").eval()
    net = LinkNet3D().eval()
    net.load_state_dict(_tensors(archive, what))
    x = torch.rand(CHECK_SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = float((archive(x) - net(x)).abs().max())
    if not diff <= MAX_ABS_DIFF:
        raise ModelError(f"{what}: the rebuilt network differs from the archive by {diff:.3g} "
                         f"(allowed {MAX_ABS_DIFF}); not imported")
    return net, diff


def _manifest(name: str, version: str, licence: str, record: dict) -> Manifest:
    return Manifest(
        name=name, version=version, task="brain-extraction", modality="MR", body_part="HEAD",
        description="Brain extraction of T1-weighted MR (deepbet's LinkNet3D, imported from its "
                    "TorchScript weights): a uint8 brain mask on the input's grid.",
        labels=LabelTable([LabelInfo(1, "brain", (255, 200, 0))]),
        architecture=Architecture("linknet3d", {"channels": [16, 32, 64, 128]}),
        target_spacing=(1.0, 1.0, 1.0), patch_size=(256, 256, 256),
        normalization=Normalization(lower_percentile=0.5, upper_percentile=99.5),
        members=("weights.safetensors",),
        training={"pipeline": dict(PIPELINE), "import": record},
        license=licence,
    )


def convert(source: Path, out_dir: Path, *, name: str | None = None, allow_torchscript: bool = False) -> Path:
    """Write the package ``out_dir/<name>-<version>`` from deepbet's archives; returns its folder."""
    files = _resolve(Path(source))
    if files is None:
        raise InputError("no deepbet model found: give the word 'deepbet' (installed package), a folder "
                         "holding model.pt and bbox_model.pt, or one of those files")
    if not allow_torchscript:
        raise ModelError("deepbet's weights are TorchScript archives, which are programs, not just tensors: "
                         "Candor opens them only if you ask (--allow-torchscript), once, to copy their "
                         "tensors into safetensors; nothing scripted is loaded when the model runs")
    hashes = {k: sha256_of(p) for k, p in files.items()}
    version, licence = _provenance(files, hashes)
    nets, diffs = {}, {}
    for key, path in files.items():
        nets[key], diffs[key] = _rebuild(path, f"deepbet {path.name}")
    name = name or DISTRIBUTION
    record = {"tool": DISTRIBUTION, "tool_version": version, "format": "TorchScript (traced)",
              "url": "https://github.com/wwu-mmll/deepbet", "citation": CITATION,
              "files": {files[k].name: {"sha256": hashes[k]} for k in FILES},
              "equivalence": {"input_shape": list(CHECK_SHAPE), "max_abs_diff": diffs,
                              "allowed": MAX_ABS_DIFF}}
    manifest = _manifest(name, version if version != "unknown" else "0.0.0", licence, record)
    return _write(Path(out_dir), manifest, nets)


def _write(out_dir: Path, manifest: Manifest, nets: dict[str, LinkNet3D]) -> Path:
    meta = {"model": manifest.name, "version": manifest.version, "source": "deepbet"}
    final = write_package(out_dir, manifest, {manifest.members[0]: nets["extract"].state_dict(),
                                              BBOX_WEIGHTS: nets["bbox"].state_dict()}, meta)
    log.info("imported deepbet as %s %s", manifest.name, manifest.version)
    return final
