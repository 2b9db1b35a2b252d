"""Model packages (manifest + safetensors weights), safe loading, the architecture registry, networks.

Public API::

    from engine.models import load_model, list_models, Manifest, mc_dropout
    model = load_model("candor-brain-t1")        # or a package folder
    net = model.network                          # ResUNet3D in eval mode; model.networks = ensemble
"""

from engine.models.discovery import DEFAULT_MODEL, ModelInfo, find_model, list_models
from engine.models.dropout import mc_dropout
from engine.models.manifest import (Architecture, Fingerprint, InferenceSettings, Manifest, Normalization,
                                    load_manifest, save_manifest)
from engine.models.package import LoadedModel, load_model, save_model
from engine.models.registry import ARCHITECTURES, build_network, register_architecture
from engine.models.unet import ResUNet3D, TrunkFeatures

__all__ = [
    "ARCHITECTURES", "DEFAULT_MODEL", "Architecture", "Fingerprint", "InferenceSettings", "LoadedModel",
    "Manifest", "ModelInfo", "Normalization", "ResUNet3D", "TrunkFeatures", "build_network", "find_model",
    "list_models", "load_manifest", "load_model", "mc_dropout", "register_architecture", "save_manifest",
    "save_model",
]
