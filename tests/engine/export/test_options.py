"""Provenance read from label volumes' metadata (inference, viewer edits, queue, files)."""

from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.export import ExportOptions, Provenance, format_of


@pytest.mark.parametrize("metadata, expected", [
    ({}, ("manual", None, None)),
    ({"model_name": "m", "model_version": "1"}, ("ai", "m", "1")),
    ({"model": "m@2.0"}, ("ai", "m", "2.0")),
    ({"model": "m", "version": "3", "role": "corrected"}, ("corrected", "m", "3")),
    ({"model_name": "m", "edited": True}, ("corrected", "m", None)),
    ({"role": "corrected"}, ("manual", None, None)),          # drawn from scratch
    ({"model_name": "m", "provenance": "manual"}, ("manual", "m", None)),
])
def test_provenance_from_metadata(metadata, expected):
    p = Provenance.from_metadata(metadata)
    assert (p.kind, p.model_name, p.model_version) == expected


def test_options_and_formats_refuse_nonsense():
    with pytest.raises(InputError):
        ExportOptions(seg_type="LABELMAP")
    with pytest.raises(InputError):
        Provenance("ai")                       # an AI result needs its model's name
    assert ExportOptions(seg_type="fractional").seg_type == "FRACTIONAL"
    assert [format_of(n) for n in ("a.nii.gz", "b.NII", "c.nrrd", "d.dcm")] == \
        ["nifti", "nifti", "nrrd", "seg"]
