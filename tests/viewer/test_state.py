"""Qt-free viewer state: display orientation, cursor, window/level, layers and their events."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputError
from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume
from viewer.state import ViewerModel
from viewer.state.orientation import DisplayGrid
from viewer.state.window import percentile_window, preset_for_key

# Direction matrices (columns = i, j, k in LPS): axial LPS, axial RAS-flipped, sagittal, coronal.
DIRECTIONS = {
    "LPS": np.eye(3),
    "RAS": np.diag([-1.0, -1.0, 1.0]),
    "sagittal": np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float),   # i→P, j→I, k→R
    "coronal": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float),     # i→L, j→I, k→P
}


def _volume(direction, size=(7, 5, 4), spacing=(0.8, 1.1, 2.5)):
    geom = Geometry(size, spacing, (10.0, -20.0, 30.0), tuple(np.asarray(direction).ravel()))
    k, j, i = np.meshgrid(*(np.arange(n) for n in geom.shape), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1)
    lps = geom.index_to_physical(ijk)
    # Encode the physical position in the value so any mix-up shows.
    arr = (lps[..., 0] * 1000 + lps[..., 1] * 10 + lps[..., 2]).astype(np.float32)
    return Volume(arr, geom, "MR")


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_display_grid_is_lps_view_and_matches_physical_positions(name):
    vol = _volume(DIRECTIONS[name])
    grid = DisplayGrid.for_geometry(vol.geometry)
    disp = grid.view(vol.array)
    assert np.shares_memory(disp, vol.array), "display must be a view, not a copy"
    assert np.allclose(grid.geometry.matrix, np.eye(3))
    for zyx in [(0, 0, 0), (1, 2, 3), tuple(n - 1 for n in disp.shape)]:
        x, y, z = grid.display_to_lps(zyx)
        assert disp[zyx] == pytest.approx(x * 1000 + y * 10 + z, abs=1e-2)
    # Display axes increase towards S, P, L.
    assert disp[1, 0, 0] - disp[0, 0, 0] > 0 and disp[0, 1, 0] - disp[0, 0, 0] > 0
    assert disp[0, 0, 1] - disp[0, 0, 0] > 0
    src = grid.display_to_source_index((1, 2, 3))
    assert np.allclose(vol.geometry.index_to_physical(src), grid.display_to_lps((1, 2, 3)))


def test_cursor_links_slices_and_reports_positions():
    model = ViewerModel()
    vol = _volume(DIRECTIONS["sagittal"], size=(9, 11, 13))
    model.open_volume(vol)
    seen = []
    model.cursor.events.changed.connect(seen.append)
    assert model.cursor.index == tuple(n // 2 for n in model.grid.shape)
    model.cursor.step("axial", 2)
    model.cursor.set_slice("sagittal", 999)          # clamped
    assert model.cursor.slice_of("sagittal") == model.grid.shape[2] - 1
    assert len(seen) == 2
    target = model.grid.display_to_lps((3, 4, 5))
    model.cursor.set_lps(target)
    assert model.cursor.index == (3, 4, 5)
    assert np.allclose(model.cursor.lps, target)
    i, j, k = model.cursor.source_index
    assert np.allclose(vol.geometry.index_to_physical((i, j, k)), target)
    assert model.cursor.slice_position_mm("axial") == pytest.approx(target[2])


def test_window_presets_and_mr_auto():
    model = ViewerModel()
    ct = Volume(np.full((4, 8, 8), -1000, np.int16), Geometry((8, 8, 4), (1, 1, 1), (0, 0, 0)), "CT")
    ct.array[1:3, 2:6, 2:6] = 40
    model.open_volume(ct)
    assert (model.window.center, model.window.width) == (40, 80)          # CT brain default
    assert model.apply_preset_key("4")
    assert model.window.preset_name == "CT lung" and model.window.center == -600
    model.apply_preset("CT liver")
    assert (model.window.center, model.window.width) == (30, 150)
    assert preset_for_key("MR", "4") is None
    rng = np.random.default_rng(0)
    mr = Volume(rng.normal(300, 50, (10, 20, 20)).astype(np.float32),
                Geometry((20, 20, 10), (1, 1, 1), (0, 0, 0)), "MR")
    model.open_volume(mr)
    c, w = model.window.center, model.window.width
    assert 280 < c < 320 and 180 < w < 280                                   # ~ ±2.3 σ
    assert model.window.preset_name == "MR auto"
    assert percentile_window(mr.array) == pytest.approx((c, w))


def test_layers_api_events_and_label_volumes():
    model = ViewerModel()
    geom = Geometry((10, 10, 5), (1.0, 1.0, 2.0), (0, 0, 0))
    model.open_volume(Volume(np.zeros(geom.shape, np.int16), geom, "CT"))
    inserted = []
    model.layers.events.inserted.connect(lambda i, layer: inserted.append(layer.name))
    mask = np.zeros(geom.shape, np.uint8)
    mask[1:3, 2:5, 2:5] = 1                        # 18 voxels × 2 mm³
    mask[4, 0, 0] = 2
    table = LabelTable([LabelInfo(1, "haematoma", (255, 0, 0)), LabelInfo(2, "oedema", (0, 255, 0))])
    labels = model.layers.add_labels(Volume(mask, geom, "SEG"), table, name="AI")
    heat = model.layers.add_heatmap(Volume(np.linspace(0, 1, mask.size, dtype=np.float32).reshape(
        geom.shape), geom), name="Grad-CAM", value_range=(0.2, 1.0))
    assert inserted == ["AI", "Grad-CAM"]
    assert model.layers.active_labels is labels
    assert labels.volume_ml(1) == pytest.approx(18 * 2 / 1000)
    assert labels.label_ids == [1, 2]
    style = []
    labels.events.style.connect(lambda: style.append(1))
    labels.set_label_visible(2, False)
    lut = labels.lut()
    assert lut.shape == (256, 4) and tuple(lut[1]) == (255, 0, 0, 255) and lut[2, 3] == 0
    assert style == [1]
    with pytest.raises(InputError):
        heat.value_range = (1.0, 0.5)
    heat.colormap = "viridis"
    heat.opacity = 2.0
    assert heat.opacity == 1.0
    # In-place edits show through the display view after refresh().
    labels.array[0, 0, 0] = 2
    labels.refresh()
    assert labels.volume_ml(2) == pytest.approx(2 * 2 / 1000)
    assert model.display(labels)[0, 0, 0] == 2
    model.layers.remove(labels)
    assert model.layers.active_labels is None


def test_overlay_on_another_grid_is_resampled_onto_the_image():
    model = ViewerModel()
    geom = Geometry((8, 8, 4), (1.0, 1.0, 1.0), (0, 0, 0))
    model.open_volume(Volume(np.zeros(geom.shape, np.int16), geom, "CT"))
    coarse = Geometry((4, 4, 2), (2.0, 2.0, 2.0), (0.5, 0.5, 0.5))
    mask = np.zeros(coarse.shape, np.uint8)
    mask[1, 1, 1] = 3
    layer = model.layers.add_labels(Volume(mask, coarse), name="coarse")
    assert layer.volume.geometry.is_close(geom)
    assert set(np.unique(layer.array)) == {0, 3}


def test_layout_and_maximise():
    model = ViewerModel()
    seen = []
    model.events.layout.connect(seen.append)
    model.toggle_maximise("coronal")
    assert (model.layout, model.focused) == ("single", "coronal")
    model.toggle_maximise("coronal")
    assert model.layout == "1x3"
    model.layout = "2x2"
    assert seen == ["single", "1x3", "2x2"]
    with pytest.raises(ValueError):
        model.layout = "3x3"


def _brain_like(modality="MR", window=None):
    """Background 0; 'grey matter' 300–500 and 'white matter' 700–900 (half each)."""
    rng = np.random.default_rng(3)
    arr = np.zeros((10, 20, 20), np.float32)
    arr[2:8, 4:16, 4:10] = rng.uniform(300, 500, (6, 12, 6))
    arr[2:8, 4:16, 10:16] = rng.uniform(700, 900, (6, 12, 6))
    meta = {"window_presets": [window]} if window else {}
    return Volume(arr, Geometry((20, 20, 10), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)), modality, meta)


def test_a_header_window_that_clips_the_foreground_is_replaced_by_mr_auto_with_a_note():
    from viewer.state.window import HEADER_CLIP_LIMIT, clipped_fraction

    model = ViewerModel()
    notes = []
    model.window.events.note.connect(notes.append)
    vol = _brain_like(window=(300.0, 600.0))           # [0, 600]: all white matter flat white
    assert clipped_fraction(vol.array, 300.0, 600.0) > HEADER_CLIP_LIMIT
    model.open_volume(vol)
    assert model.window.preset_name == "MR auto"
    assert (model.window.center, model.window.width) == pytest.approx(percentile_window(model.display(model.image)))
    assert len(notes) == 1 and "W 600 / L 300" in notes[0] and "MR auto" in notes[0]
    model.reset()                                       # Home keeps the rule, without a second note
    assert model.window.preset_name == "MR auto" and len(notes) == 1


def test_a_header_window_that_fits_is_kept_and_ct_headers_are_always_kept():
    model = ViewerModel()
    notes = []
    model.window.events.note.connect(notes.append)
    model.open_volume(_brain_like(window=(600.0, 700.0)))     # [250, 950]: nothing clipped
    assert model.window.preset_name == "Header" and (model.window.center, model.window.width) == (600.0, 700.0)
    model.open_volume(_brain_like("CT", window=(40.0, 80.0)))  # a CT brain window, on purpose
    assert model.window.preset_name == "Header" and model.window.width == 80.0
    assert notes == []
