"""Pure-Python viewer state with events (psygnal): no Qt, no torch. Qt widgets bind to it.

Public API (documented in docs/ARCHITECTURE.md, "Viewer state")::

    from viewer.state import ViewerModel
    model.layers.add_labels(volume, table, name="AI segmentation")
    model.layers.add_heatmap(volume, name="Grad-CAM", colormap="inferno", value_range=(0, 1))
    model.layers.active_labels
"""

from viewer.state.layers import HeatmapLayer, ImageLayer, LabelsLayer, Layer, LayerList
from viewer.state.viewer_model import ViewerModel

__all__ = ["ViewerModel", "Layer", "LayerList", "ImageLayer", "LabelsLayer", "HeatmapLayer"]
