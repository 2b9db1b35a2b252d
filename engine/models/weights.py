"""Reading and checking weight files, safely.

* ``.safetensors``: tensors only, nothing can execute; the default and recommended format.
* ``.pt`` / ``.pth`` / ``.bin``: a plain state dict, read with ``torch.load(weights_only=True)``
  (torch's restricted unpickler: tensors and containers only, no arbitrary objects).
* Pickled modules and TorchScript archives can run code when loaded: they are refused unless the
  caller passes ``trust=True`` (the CLI's ``--trust-model``), which means "I trust whoever made it".
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelError

log = logging.getLogger(__name__)

SAFE_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")

_UNSAFE_HINT = ("it may run code when loaded, so Candor refuses it; if you trust where it came from, "
                "load it with the explicit trust option (--trust-model), or convert it to safetensors")


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with a ``code/`` folder (and ``constants.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any("/code/" in n or n.endswith("constants.pkl") for n in zf.namelist())


def read_state_dict(path: str | Path, *, trust: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a weights file as a ``{name: tensor}`` dict on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file {path.name} is missing from the model package")
    suffix = path.suffix.lower()
    if suffix in SAFE_SUFFIXES:
        return _read_safetensors(path)
    if suffix not in TORCH_SUFFIXES:
        raise ModelError(f"weights file {path.name}: unknown format (use .safetensors, or a .pt/.pth state dict)")
    if is_torchscript(path):
        if not trust:
            raise ModelError(f"{path.name} is a TorchScript program; {_UNSAFE_HINT}")
        log.warning("loading TorchScript weights from %s because the caller trusts it", path.name)
        return _tensors_only(torch.jit.load(str(path), map_location="cpu").state_dict(), path)
    if not trust:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
            log.debug("weights-only load of %s refused: %s", path.name, exc)
            raise ModelError(f"{path.name} holds pickled Python objects, not just tensors; {_UNSAFE_HINT}") from None
    else:
        log.warning("loading pickled weights from %s with full unpickling because the caller trusts it", path.name)
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelError(f"{path.name} does not hold a state dict (found {type(obj).__name__})")
    return _tensors_only(obj, path)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"weights file {path.name} is not a valid safetensors file ({exc})") from None


def _tensors_only(obj: dict, path: Path) -> dict[str, torch.Tensor]:
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelError(f"{path.name}: entries {bad[:3]} are not tensors")
    return {str(k): v for k, v in obj.items()}


def write_safetensors(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path), metadata=metadata)


def check_state_dict(net: nn.Module, state: dict[str, torch.Tensor], label: str) -> None:
    """Raise a clear :class:`ModelError` when ``state`` does not fit ``net`` (before any inference)."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    for key in sorted(set(expected) & set(state)):
        if tuple(expected[key].shape) != tuple(state[key].shape):
            problems.append(_shape_message(net, key, tuple(expected[key].shape), tuple(state[key].shape)))
            break
    if problems:
        raise ModelError(f"{label} does not match its manifest: " + "; ".join(problems))


def _shape_message(net: nn.Module, key: str, want: tuple, got: tuple) -> str:
    in_ch, out_ch = getattr(net, "in_channels", None), getattr(net, "out_channels", None)
    if key.startswith("stem.") and key.endswith("weight") and len(got) == 5 and got[1] != want[1]:
        return f"the weights take {got[1]} input channels, the manifest says {in_ch}"
    if key.startswith("head.") and got[0] != want[0]:
        return (f"the weights predict {got[0]} classes, the manifest's labels need {out_ch} "
                f"(background + {int(out_ch or 1) - 1} labels)")
    return f"tensor {key} has shape {got}, the architecture expects {want}"
