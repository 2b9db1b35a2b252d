"""Fixtures of the export tests: a private copy of an oblique series, a label table, a mask."""

from __future__ import annotations

import shutil

import pytest

from engine.labels import LabelInfo, LabelTable
from engine.volume import Volume

from .data import Series, asymmetric_mask, make_series


@pytest.fixture(scope="session")
def _series_master(tmp_path_factory) -> Series:
    return make_series(tmp_path_factory.mktemp("oblique") / "series")


@pytest.fixture
def series(_series_master, tmp_path) -> Series:
    """A private copy of the oblique series (tests may damage it)."""
    folder = tmp_path / "series"
    shutil.copytree(_series_master.folder, folder)
    paths = [folder / p.name for p in _series_master.paths]
    ref = _series_master.reference
    meta = dict(ref.metadata, source_files=[str(p) for p in paths])
    return Series(folder, paths, ref.with_array(ref.array, metadata=meta))


@pytest.fixture
def table() -> LabelTable:
    return LabelTable([LabelInfo(1, "grey matter", (170, 170, 170)),
                       LabelInfo(2, "white matter", (250, 250, 225)),
                       LabelInfo(3, "lesion", (230, 25, 75))])


@pytest.fixture
def mask(series) -> Volume:
    lab = asymmetric_mask(series.reference.geometry.shape)
    return series.reference.with_array(lab, modality="SEG", metadata={
        "model_name": "candor-brain-t1", "model_version": "1.2.0", "edited": True})
