"""Model packages (manifest + safetensors weights), safe loading, the architecture registry, networks.

Public API::

    from engine.models import load_model, list_models, Manifest, mc_dropout
    model = load_model("candor-brain-t1")        # or a package folder
    net = model.network                          # ResUNet3D in eval mode; model.networks = ensemble
    store = ModelStore()                         # what a front end holds: find / active / load (cached)
"""

from engine._lazy import lazy_exports

# Names resolve lazily (PEP 562): reading manifests and listing models needs no torch, so the
# viewer can fill its model menus at start-up without paying torch's ~1.5-4 s import.
_WHERE = {
    "DEFAULT_MODEL": "discovery", "ModelInfo": "discovery", "find_model": "discovery",
    "list_models": "discovery",
    "Architecture": "manifest", "Fingerprint": "manifest", "InferenceSettings": "manifest",
    "Manifest": "manifest", "Normalization": "manifest", "load_manifest": "manifest",
    "save_manifest": "manifest",
    "mc_dropout": "dropout",
    "LoadedModel": "package", "load_model": "package", "save_model": "package",
    "ARCHITECTURES": "registry", "build_network": "registry", "register_architecture": "registry",
    "ResUNet3D": "unet", "TrunkFeatures": "unet",
    "ModelStore": "store", "set_active": "store", "weights_hash": "store",
    "next_version": "versions",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
