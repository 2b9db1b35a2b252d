"""A small, real nnU-Net v2 results folder built with nnunetv2 itself (the oracle of the nnU-Net tests).

``build(out)`` writes six generated 3-D cases in nnU-Net's raw format (``Dataset901_CandorTest``:
a bright sphere = label 1, a dimmer box = label 2, noise elsewhere, a zero border so cropping to
non-zero does something), runs nnU-Net's own fingerprint extraction and planner
(``nnUNetPlans.json``), builds the 3d_fullres and the 2d network from the plans with nnU-Net's
``get_network_from_plans`` (``dynamic_network_architectures``), trains each of two folds a few
steps on the cases (so outputs are not trivial) and saves ``fold_N/checkpoint_final.pth`` in
nnU-Net's own checkpoint format (what ``nnUNetTrainer.save_checkpoint`` writes). nnU-Net's CLI
trainer is not used: its trainer lookup imports timm → torchvision, which does not import beside
the CPU torch here.

nnunetv2 reads its folders from environment variables when it is imported, so the build runs in a
subprocess (``python -m tests.peers.nnunet_folder OUT``) with ``nnUNet_raw``/``_preprocessed``/
``_results`` set to folders under ``OUT``. :func:`results_folder` caches the result under
``$XDG_CACHE_HOME/candor-tests/`` keyed on nnunetv2's version and this file's hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

DATASET = "Dataset901_CandorTest"
CONFIG = "3d_fullres"
CONFIGS = ("3d_fullres", "2d")
TRAINER_DIR = f"nnUNetTrainer__nnUNetPlans__{CONFIG}"


def trainer_dir(config: str = CONFIG) -> str:
    return f"nnUNetTrainer__nnUNetPlans__{config}"
FOLDS = (0, 1)
SHAPE = (32, 32, 32)
SPACING = (1.0, 1.0, 1.0)


def make_case(seed: int, shape=SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """A (z, y, x) float32 image and its uint8 labels: sphere = 1, box = 2, a zero border of 2 voxels."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape, dtype=np.float32)
    centre = [rng.uniform(0.35, 0.65) * n for n in shape]
    radius = rng.uniform(0.15, 0.22) * min(shape)
    sphere = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 < radius ** 2
    labels = np.zeros(shape, np.uint8)
    lo = [int(rng.integers(3, n // 4)) for n in shape]
    box = np.zeros(shape, bool)
    box[lo[0]:lo[0] + shape[0] // 5, lo[1]:lo[1] + shape[1] // 4, lo[2]:lo[2] + shape[2] // 4] = True
    labels[box] = 2
    labels[sphere] = 1
    image = rng.normal(100.0, 15.0, shape).astype(np.float32)
    image[labels == 2] += 80.0
    image[labels == 1] += 200.0
    image[:2], image[-2:], image[:, :2], image[:, -2:], image[:, :, :2], image[:, :, -2:] = 0, 0, 0, 0, 0, 0
    labels[image == 0] = 0
    return image, labels


def write_nifti(array: np.ndarray, path: Path, spacing=SPACING) -> None:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array)
    img.SetSpacing(tuple(float(s) for s in spacing))
    sitk.WriteImage(img, str(path))


def _write_raw(raw: Path, cases: int = 6) -> None:
    folder = raw / DATASET
    (folder / "imagesTr").mkdir(parents=True, exist_ok=True)
    (folder / "labelsTr").mkdir(parents=True, exist_ok=True)
    for i in range(cases):
        image, labels = make_case(1000 + i)
        write_nifti(image, folder / "imagesTr" / f"case_{i:03d}_0000.nii.gz")
        write_nifti(labels, folder / "labelsTr" / f"case_{i:03d}.nii.gz")
    dataset = {"channel_names": {"0": "MRI"}, "labels": {"background": 0, "sphere": 1, "box": 2},
               "numTraining": cases, "file_ending": ".nii.gz", "name": "CandorTest",
               "description": "generated spheres and boxes for Candor's tests", "licence": "CC0-1.0"}
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))


def _train_fold(fold: int, plans: dict, dataset_json: dict, raw: Path, config: str, steps: int = 6):
    """The ``config`` network from the plans, trained ``steps`` SGD steps on the training cases."""
    import torch
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    cm = PlansManager(plans).get_configuration(config)
    torch.manual_seed(fold)
    net = get_network_from_plans(cm.network_arch_class_name, cm.network_arch_init_kwargs,
                                 cm.network_arch_init_kwargs_req_import, 1, 3, allow_init=True,
                                 deep_supervision=False)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)
    import SimpleITK as sitk

    images = sorted((raw / DATASET / "imagesTr").glob("*.nii.gz"))
    labels = sorted((raw / DATASET / "labelsTr").glob("*.nii.gz"))
    logging_ = {"mean_fg_dice": [], "train_losses": []}
    net.train()
    for step in range(steps):
        i = (step + fold) % len(images)
        x = sitk.GetArrayFromImage(sitk.ReadImage(str(images[i]))).astype(np.float32)
        y = sitk.GetArrayFromImage(sitk.ReadImage(str(labels[i]))).astype(np.int64)
        x = (x - x.mean()) / x.std()
        ps = cm.patch_size
        if len(ps) == 2:       # 2d: a batch of the middle slices
            x, y = x[8:-8, : ps[0], : ps[1]], y[8:-8, : ps[0], : ps[1]]
            xt, yt = torch.from_numpy(x)[:, None], torch.from_numpy(y)
        else:
            x, y = x[: ps[0], : ps[1], : ps[2]], y[: ps[0], : ps[1], : ps[2]]
            xt, yt = torch.from_numpy(x)[None, None], torch.from_numpy(y)[None]
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        logging_["train_losses"].append(np.float64(loss.item()))
        logging_["mean_fg_dice"].append(np.float64(0.5))
    net.eval()
    init_args = {"plans": plans, "configuration": config, "fold": fold, "dataset_json": dataset_json,
                 "device": torch.device("cpu")}
    return {"network_weights": net.state_dict(), "optimizer_state": opt.state_dict(), "grad_scaler_state": None,
            "logging": logging_, "_best_ema": np.float64(0.5), "current_epoch": steps,
            "init_args": init_args, "trainer_name": "nnUNetTrainer",
            "inference_allowed_mirroring_axes": (0, 1, 2) if len(cm.patch_size) == 3 else (0, 1)}


def build(out: Path) -> Path:
    """Build the results folder under ``out`` (run in a process whose nnUNet_* variables point there)."""
    import torch
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, plan_experiments

    raw = Path(os.environ["nnUNet_raw"])
    _write_raw(raw)
    extract_fingerprints([901], num_processes=1, check_dataset_integrity=True, verbose=False,
                         show_progress_bar=False)
    plan_experiments([901])
    pre = Path(os.environ["nnUNet_preprocessed"]) / DATASET
    plans = json.loads((pre / "nnUNetPlans.json").read_text())
    dataset_json = json.loads((raw / DATASET / "dataset.json").read_text())
    for config in CONFIGS:
        folder = out / "nnUNet_results" / DATASET / trainer_dir(config)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "plans.json").write_text(json.dumps(plans, indent=2))
        (folder / "dataset.json").write_text(json.dumps(dataset_json, indent=2))
        shutil.copy(pre / "dataset_fingerprint.json", folder / "dataset_fingerprint.json")
        for fold in FOLDS:
            (folder / f"fold_{fold}").mkdir(exist_ok=True)
            torch.save(_train_fold(fold, plans, dataset_json, raw, config),
                       folder / f"fold_{fold}" / "checkpoint_final.pth")
    return out / "nnUNet_results" / DATASET / trainer_dir(CONFIG)


def nnunet_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        env[key] = str(root / key)
        (root / key).mkdir(parents=True, exist_ok=True)
    env["nnUNet_n_proc_DA"] = "1"
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "2")
    return env


def cache_key() -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"nnunetv2-{version('nnunetv2')}-{digest}"


def results_folder(config: str = CONFIG) -> Path:
    """The cached results folder of ``config`` (built once per nnunetv2 version and version of this file)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "candor-tests" / cache_key()
    folder = cache / "nnUNet_results" / DATASET / trainer_dir(config)
    done = [cache / "nnUNet_results" / DATASET / trainer_dir(c) / f"fold_{f}" / "checkpoint_final.pth"
            for c in CONFIGS for f in FOLDS]
    if all(p.is_file() for p in done):
        return folder
    tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "tests.peers.nnunet_folder", str(tmp)], cwd=repo, env=nnunet_env(tmp),
                   check=True, capture_output=True, timeout=900)
    shutil.rmtree(cache, ignore_errors=True)
    tmp.rename(cache)
    return folder


if __name__ == "__main__":
    build(Path(sys.argv[1]))
