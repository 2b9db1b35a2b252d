"""nnU-Net v2 models in Candor: the manifest's ``adapter`` section and the network rebuild.

An imported nnU-Net v2 results folder (``engine.models.importers.nnunet``) is a Candor package whose
``architecture`` is ``nnunet_v2`` and whose ``adapter`` (``kind: "nnunet_v2"``) holds what nnU-Net's
plans, dataset.json and fingerprint say about preprocessing and export (:class:`NnUNetAdapter`).
The network is rebuilt by :func:`build_nnunet_network` with ``dynamic_network_architectures``
(nnU-Net's own architecture package); the class and every ``*_op``/``nonlin`` must be in the
allow-lists below: nothing is imported by a name read from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from engine.errors import ModelError

KIND = "nnunet_v2"
NORMALIZATIONS = ("ZScoreNormalization", "CTNormalization", "NoNormalization", "RescaleTo01Normalization")

_ARCHITECTURES = {
    "dynamic_network_architectures.architectures.unet.PlainConvUNet": ("unet", "PlainConvUNet"),
    "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet": ("unet", "ResidualEncoderUNet"),
}
_OPS = {
    "torch.nn.modules.conv.Conv2d": "Conv2d", "torch.nn.modules.conv.Conv3d": "Conv3d",
    "torch.nn.Conv2d": "Conv2d", "torch.nn.Conv3d": "Conv3d",
    "torch.nn.modules.instancenorm.InstanceNorm2d": "InstanceNorm2d",
    "torch.nn.modules.instancenorm.InstanceNorm3d": "InstanceNorm3d",
    "torch.nn.InstanceNorm2d": "InstanceNorm2d", "torch.nn.InstanceNorm3d": "InstanceNorm3d",
    "torch.nn.modules.batchnorm.BatchNorm2d": "BatchNorm2d", "torch.nn.modules.batchnorm.BatchNorm3d": "BatchNorm3d",
    "torch.nn.LeakyReLU": "LeakyReLU", "torch.nn.modules.activation.LeakyReLU": "LeakyReLU",
    "torch.nn.ReLU": "ReLU", "torch.nn.modules.activation.ReLU": "ReLU",
    "torch.nn.Dropout": "Dropout", "torch.nn.Dropout2d": "Dropout2d", "torch.nn.Dropout3d": "Dropout3d",
    "torch.nn.modules.dropout.Dropout": "Dropout", "torch.nn.modules.dropout.Dropout2d": "Dropout2d",
    "torch.nn.modules.dropout.Dropout3d": "Dropout3d",
}


@dataclass(frozen=True)
class NnUNetAdapter:
    """nnU-Net's preprocessing and export settings (axes in nnU-Net's array order after ``transpose_forward``).

    ``spacing``/``patch_size`` of the configuration; ``normalization_schemes``/``use_mask_for_norm``
    per channel with ``intensity_properties`` (the fingerprint's foreground statistics, per channel
    index as a string); ``resampling_data``/``resampling_probabilities`` ``{order, order_z,
    force_separate_z}``; ``mirror_axes`` the axes the checkpoint allows; ``regions`` label regions
    (lists of label ids, region-based models) with ``regions_class_order``, else ``None``.
    """

    configuration: str
    spacing: tuple[float, ...]
    patch_size: tuple[int, ...]
    transpose_forward: tuple[int, ...] = (0, 1, 2)
    transpose_backward: tuple[int, ...] = (0, 1, 2)
    normalization_schemes: tuple[str, ...] = ("ZScoreNormalization",)
    use_mask_for_norm: tuple[bool, ...] = (False,)
    intensity_properties: Mapping[str, Any] = field(default_factory=dict)
    resampling_data: Mapping[str, Any] = field(default_factory=lambda: {"order": 3, "order_z": 0,
                                                                        "force_separate_z": None})
    resampling_probabilities: Mapping[str, Any] = field(default_factory=lambda: {"order": 1, "order_z": 0,
                                                                                 "force_separate_z": None})
    mirror_axes: tuple[int, ...] = ()
    tile_step_size: float = 0.5
    regions: tuple[tuple[int, ...], ...] | None = None
    regions_class_order: tuple[int, ...] | None = None
    kind: str = KIND

    def __post_init__(self) -> None:
        if self.kind != KIND:
            raise ModelError(f"manifest: adapter kind {self.kind!r} is not {KIND!r}")
        for name in ("spacing", "patch_size", "transpose_forward", "transpose_backward", "mirror_axes",
                     "normalization_schemes", "use_mask_for_norm"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.spacing) != len(self.patch_size) or len(self.patch_size) not in (2, 3):
            raise ModelError("manifest: adapter spacing and patch_size must both have 2 or 3 entries")
        if sorted(self.transpose_forward) != [0, 1, 2]:
            raise ModelError("manifest: adapter transpose_forward must be a permutation of 0, 1, 2")
        unknown = sorted(set(self.normalization_schemes) - set(NORMALIZATIONS))
        if unknown:
            raise ModelError(f"manifest: nnU-Net normalisation {unknown} is not supported (known: {NORMALIZATIONS})")
        if self.regions is not None:
            object.__setattr__(self, "regions", tuple(tuple(int(v) for v in r) for r in self.regions))
            object.__setattr__(self, "regions_class_order", tuple(self.regions_class_order or ()))

    @property
    def is_2d(self) -> bool:
        return len(self.patch_size) == 2

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NnUNetAdapter:
        try:
            return cls(**dict(d))
        except TypeError as exc:
            raise ModelError(f"manifest: adapter section is malformed ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import fields

        return {f.name: getattr(self, f.name) for f in fields(self)}


def _resolve_op(path: str | None):
    import torch.nn as nn

    if path is None:
        return None
    name = _OPS.get(str(path))
    if name is None:
        raise ModelError(f"nnU-Net network uses {path!r}, which is not in Candor's allow-list of layers")
    return getattr(nn, name)


def build_nnunet_network(in_channels: int, out_channels: int, *, network_class_name: str,
                         arch_kwargs: Mapping[str, Any], kw_requires_import: tuple[str, ...] = ()):
    """The plans' network (``dynamic_network_architectures``), its class and layers from the allow-lists."""
    try:
        module, cls_name = _ARCHITECTURES[network_class_name]
    except KeyError:
        raise ModelError(f"nnU-Net architecture {network_class_name!r} is not in Candor's allow-list "
                         f"({', '.join(sorted(_ARCHITECTURES))})") from None
    try:
        import importlib

        arch_module = importlib.import_module(f"dynamic_network_architectures.architectures.{module}")
    except ImportError:
        raise ModelError("running an nnU-Net model needs the package dynamic_network_architectures "
                         "(pip install dynamic-network-architectures)") from None
    kwargs = dict(arch_kwargs)
    for key in kw_requires_import:
        if key in kwargs:
            kwargs[key] = _resolve_op(kwargs[key])
    for key in ("kernel_sizes", "strides"):
        if key in kwargs:
            kwargs[key] = [list(v) if isinstance(v, (list, tuple)) else v for v in kwargs[key]]
    net = getattr(arch_module, cls_name)(input_channels=in_channels, num_classes=out_channels,
                                         deep_supervision=False, **kwargs)
    net.has_dropout = kwargs.get("dropout_op") is not None
    return net
