"""Turning a :class:`engine.trust.TrustResult` into layers, a banner and uncertainty strips."""

from __future__ import annotations

import copy


FLAG_PREFIX = "⚠ "
MAP_COLORMAPS = {"total": "inferno", "aleatoric": "magma", "epistemic": "plasma", "disagreement": "viridis"}


def result_record(result) -> dict:
    """What is recorded with the result (in the label volume's metadata and on the layer)."""
    return copy.deepcopy(result.report())


def segmentation_name(result) -> str:
    name = f"AI segmentation ({result.model['name']} {result.model['version']})"
    return FLAG_PREFIX + name + " — OOD warning" if result.ood.flag else name


def add_result_layers(model, result, *, maps: bool = True) -> dict:
    """Labels (names and colours from the manifest), uncertainty maps and saliency as layers."""
    from engine.trust import MAP_NAMES
    from engine.trust.entropy import max_entropy

    record = result_record(result)
    labels = result.labels
    labels.metadata["label_table"] = result.table.to_list()
    labels.metadata["trust"] = record
    # Provenance read by the exporters (AI segments name their algorithm) and the correction queue.
    labels.metadata.update(model_name=result.model.get("name"), model_version=result.model.get("version"),
                           role="ai")
    layers = {}
    layer = model.layers.add_labels(labels, result.table, name=segmentation_name(result), opacity=0.45)
    layer.trust_record = record
    layer.ood_flag = bool(result.ood.flag)
    layers["labels"] = layer
    k = result.table and len(result.table) + 1
    if maps:
        for key, vol in result.maps.items():
            top = max_entropy(k or 2) if key in ("total", "aleatoric") else max(float(vol.array.max()), 1e-6)
            name = (FLAG_PREFIX if result.ood.flag else "") + MAP_NAMES.get(key, key)
            heat = model.layers.add_heatmap(vol, name=name, colormap=MAP_COLORMAPS.get(key, "inferno"),
                                            value_range=(0.0, top), opacity=0.5)
            heat.visible = False          # the reader turns maps on; the slice strips show where to look
            heat.trust_record = record
            layers[key] = heat
    for label_id, vol in result.saliency.items():
        layers[f"saliency{label_id}"] = add_saliency_layer(model, result, label_id, vol, record)
    if "labels" in layers:
        model.layers.active = layers["labels"]
    return layers


def add_saliency_layer(model, result, label_id: int, vol, record: dict):
    info = next((l for l in result.table if l.id == label_id), None)
    name = f"Saliency (Grad-CAM): {info.name if info else label_id}"
    heat = model.layers.add_heatmap(vol, name=(FLAG_PREFIX if result.ood.flag else "") + name,
                                    colormap="jet", value_range=(0.0, 1.0), opacity=0.45)
    heat.trust_record = record
    return heat


def strip_map(result):
    """The map the per-slice strip shows: epistemic if there is one, else total entropy."""
    for key in ("epistemic", "disagreement", "total"):
        if key in result.maps:
            return key, result.maps[key]
    return None, None
