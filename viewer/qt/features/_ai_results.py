"""Turning an analysis result into layers, a banner and uncertainty strips.

Every layer made here carries the run's typed :class:`LayerProvenance` (model name, version,
weights hash if known, OOD verdict, trust record) and its role (AI labels or heatmap); the layers
panel shows the OOD flag from that field, so layer names stay plain.
"""

from __future__ import annotations

import copy

from viewer.state.provenance import LayerProvenance, Role

MAP_COLORMAPS = {"total": "inferno", "aleatoric": "magma", "epistemic": "plasma", "disagreement": "viridis"}


def result_record(result) -> dict:
    """What is recorded with the result (in the label volume's metadata and on the layer)."""
    return copy.deepcopy(result.report())


def result_provenance(result, record: dict) -> LayerProvenance:
    """The typed provenance of every layer of one run (``record`` is shared, so the banner's
    dismissal recorded in it is part of the layer's trust record)."""
    model = result.model or {}
    return LayerProvenance(model_name=model.get("name"), model_version=model.get("version"),
                           weights_hash=model.get("weights_hash"), ood_flag=bool(result.ood.flag),
                           ood=result.ood.to_dict(), trust=record)


def segmentation_name(result) -> str:
    return f"AI segmentation ({result.model['name']} {result.model['version']})"


def add_result_layers(model, result, *, maps: bool = True) -> dict:
    """Labels (names and colours from the manifest), uncertainty maps and saliency as layers."""
    from engine.trust.entropy import max_entropy

    record = result_record(result)
    provenance = result_provenance(result, record)
    layers = {}
    layer = model.layers.add_labels(result.labels, result.table, name=segmentation_name(result),
                                    opacity=0.45, role=Role.AI, provenance=provenance)
    layers["labels"] = layer
    k = result.table and len(result.table) + 1
    if maps:
        for key, vol in result.maps.items():
            top = max_entropy(k or 2) if key in ("total", "aleatoric") else max(float(vol.array.max()), 1e-6)
            heat = model.layers.add_heatmap(vol, name=map_layer_name(key),
                                            colormap=MAP_COLORMAPS.get(key, "inferno"),
                                            value_range=(0.0, top), opacity=0.5, provenance=provenance)
            heat.visible = False          # the reader turns maps on; the slice strips show where to look
            layers[key] = heat
    for label_id, vol in result.saliency.items():
        layers[f"saliency{label_id}"] = add_saliency_layer(model, result, label_id, vol, record)
    if "labels" in layers:
        model.layers.active = layers["labels"]
    return layers


def add_saliency_layer(model, result, label_id: int, vol, record: dict):
    info = next((l for l in result.table if l.id == label_id), None)
    name = f"Saliency (Grad-CAM): {info.name if info else label_id}"
    return model.layers.add_heatmap(vol, name=name, colormap="viridis", value_range=(0.0, 1.0),
                                    opacity=0.45, provenance=result_provenance(result, record))


#: the maps the per-slice strips show, in order of preference
STRIP_KEYS = ("epistemic", "disagreement", "total")


def map_layer_name(key: str) -> str:
    """The layer name of an uncertainty map (``add_result_layers``)."""
    from engine.trust import MAP_NAMES

    return MAP_NAMES.get(key, key)


def strip_map(result):
    """The map the per-slice strip shows: epistemic if there is one, else total entropy."""
    for key in STRIP_KEYS:
        if key in result.maps:
            return key, result.maps[key]
    return None, None
