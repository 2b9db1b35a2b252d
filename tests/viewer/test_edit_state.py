"""Edit state and the layer bridge, without Qt: brush ladder, display ↔ source voxels, AI safety."""

from __future__ import annotations

import numpy as np
import pytest

from engine.editing import Brush
from engine.errors import InputError
from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume
from viewer.state.editing import BRUSH_SIZES_MM, EditingState, LayerEditing
from viewer.state.orientation import DisplayGrid
from viewer.state.viewer_model import ViewerModel


def test_edit_state_is_an_evented_dataclass_that_checks_values():
    """Fields emit once per real change, with the checked value; bad values raise, emit nothing."""
    state = EditingState()
    seen = {name: [] for name in ("tool", "window", "active_label", "brush_size_mm", "sphere")}
    for name, values in seen.items():
        getattr(state.events, name).connect(values.append)
    state.window = (80, 30)                 # stored in order
    state.window = (30.0, 80.0)             # the same window: no event
    state.brush_size_mm = 500               # clipped to the ladder's top
    state.brush_size_mm = BRUSH_SIZES_MM[-1]
    state.sphere = 1
    with pytest.raises(ValueError):
        state.tool = "lasso"
    with pytest.raises(InputError):
        state.active_label = 0
    assert seen == {"tool": [], "window": [(30.0, 80.0)], "active_label": [],
                    "brush_size_mm": [BRUSH_SIZES_MM[-1]], "sphere": [True]}
    assert (state.tool, state.active_label, state.window) == ("navigate", 1, (30.0, 80.0))


def test_brush_ladder_tool_and_brush_settings():
    state = EditingState()
    seen = []
    state.events.brush_size_mm.connect(seen.append)
    state.brush_size_mm = 5.0
    state.bigger()
    state.bigger()
    assert state.brush_size_mm == 10.0 and seen == [7.0, 10.0]
    for _ in range(30):
        state.smaller()
    assert state.brush_size_mm == BRUSH_SIZES_MM[0]
    state.brush_size_mm = 8.0  # off the ladder: ] goes to the next size up
    state.bigger()
    assert state.brush_size_mm == 10.0
    with pytest.raises(ValueError):
        state.tool = "lasso"
    with pytest.raises(InputError):
        state.active_label = 0
    state.tool, state.active_label = "brush", 3
    brush = state.brush(plane_axis=2)
    assert (brush.radius_mm, brush.label, brush.plane_axis, brush.erase) == (5.0, 3, 2, False)
    state.inverted = True
    assert state.brush(plane_axis=2).erase
    state.tool, state.inverted, state.sphere = "eraser", False, True
    assert state.brush(plane_axis=0).erase and state.brush(plane_axis=0).plane_axis is None
    state.tool, state.window = "threshold", (300, 100)
    assert state.window == (100.0, 300.0) and state.brush(0).window == (100.0, 300.0)


@pytest.mark.parametrize("direction", [
    (1, 0, 0, 0, 1, 0, 0, 0, 1),            # LPS axial
    (-1, 0, 0, 0, -1, 0, 0, 0, 1),          # RAS-stored NIfTI
    (0, 0, -1, 1, 0, 0, 0, -1, 0),          # sagittal acquisition
    (0, 1, 0, 0, 0, -1, -1, 0, 0),          # coronal-ish, flipped
])
def test_display_index_maps_to_the_same_source_voxel(direction):
    geometry = Geometry((7, 5, 4), (0.7, 0.9, 2.0), (3.0, -2.0, 10.0), direction)
    array = np.arange(np.prod(geometry.shape)).reshape(geometry.shape)
    grid = DisplayGrid.for_geometry(geometry)
    display = grid.view(array)
    rng = np.random.default_rng(0)
    for _ in range(25):
        zyx = tuple(int(rng.integers(0, n)) for n in display.shape)
        kji = LayerEditing.to_source(grid, zyx)
        assert display[zyx] == array[tuple(int(v) for v in kji)]
    for axis in range(3):  # a slice of the display is a slice of the source along source_axis
        src_axis = LayerEditing.source_axis(grid, axis)
        assert display.shape[axis] == array.shape[src_axis]


def test_painting_target_is_a_corrected_copy_never_the_ai_layer():
    model = ViewerModel()
    geometry = Geometry((8, 8, 4), (1, 1, 1), (0, 0, 0))
    model.open_volume(Volume(np.zeros(geometry.shape, np.int16), geometry, "CT"))
    ai_volume = Volume(np.ones(geometry.shape, np.uint8), geometry, "SEG",
                       {"model_name": "m", "model_version": "1"})
    ai = model.layers.add_labels(ai_volume, LabelTable([LabelInfo(1, "Organ", (1, 1, 1))]), name="AI")
    editing = LayerEditing(model.layers)
    with pytest.raises(InputError, match="never edited"):
        editing.editor(ai)
    target = editing.editable_target()
    assert target is not ai and target.name == "AI (corrected)" and not ai.visible
    assert editing.ai_source(target) is ai and model.layers.active is target
    assert target.volume.metadata["provenance"] == "corrected"
    assert target.volume.metadata["model_name"] == "m"
    # asking again (AI selected) reuses the same corrected layer
    model.layers.active = ai
    assert editing.editable_target() is target
    edited = []
    editing.events.edited.connect(edited.append)
    editor = editing.editor(target)
    with editing.batch():
        editor.dab((1, 1, 1), Brush(1.0, 1, erase=True))
        editor.dab((2, 2, 2), Brush(1.0, 1, erase=True))
        assert edited == []  # batched: one refresh at the end
    assert edited == [target]
    assert ai.volume.array.all()
    model.layers.remove(target)
    assert editing.existing_editor(target) is None
