"""A model's trainable state as the list of arrays Flower exchanges: nothing but numbers.

The order is the ensemble members' ``state_dict`` order, floating-point tensors only (integer
buffers stay local). No key, name or path travels: both sides hold the same architecture, so
position identifies a tensor.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _float_items(nets: list[nn.Module]):
    for net in nets:
        for key, value in net.state_dict().items():
            if value.is_floating_point():
                yield net, key, value


def get_arrays(nets: list[nn.Module]) -> list[np.ndarray]:
    """The floating-point tensors of every member, in order, as float32 numpy arrays."""
    return [value.detach().cpu().numpy().astype(np.float32, copy=True) for _, _, value in _float_items(nets)]


def set_arrays(nets: list[nn.Module], arrays: list[np.ndarray]) -> None:
    """Load ``arrays`` (from :func:`get_arrays` of the same architecture) into ``nets``."""
    items = list(_float_items(nets))
    if len(items) != len(arrays):
        raise ValueError(f"expected {len(items)} weight tensors, got {len(arrays)}")
    for (_, _, value), array in zip(items, arrays):
        if tuple(value.shape) != tuple(array.shape):
            raise ValueError(f"weight tensor shape {tuple(array.shape)} does not fit {tuple(value.shape)}")
    with torch.no_grad():
        for (_, _, value), array in zip(items, arrays):
            value.copy_(torch.from_numpy(np.asarray(array)).to(value.dtype))


def shapes(nets: list[nn.Module]) -> list[tuple[int, ...]]:
    """The shapes :func:`get_arrays` returns, in order."""
    return [tuple(value.shape) for _, _, value in _float_items(nets)]
