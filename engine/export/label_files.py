"""Label maps as NIfTI or NRRD files on the reference grid, with names and colours alongside.

* NIfTI: an integer image (uint8, or uint16 beyond 255 labels) written by SimpleITK, which stores
  ITK's LPS geometry as the NIfTI RAS qform/sform, plus a JSON sidecar (``mask.nii.gz`` →
  ``mask.json``) with label ids, names, colours, SNOMED CT codes and provenance.
* NRRD: the same image with 3D Slicer's segmentation header fields (names, colours, label values).

Both are read back by :func:`read_label_file`, which also understands Slicer's own ``.seg.nrrd``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.export.codes import codes_for
from engine.export.slicer_fields import segmentation_fields, table_from_fields
from engine.io.formats import READ_SUFFIXES, suffix_of
from engine.labels import LabelTable
from engine.volume import Volume

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "candor-labels/1"


def sidecar_path(path: str | Path) -> Path:
    """``mask.nii.gz`` → ``mask.json`` (the BIDS habit: same stem, .json)."""
    path = Path(path)
    name, ending = path.name, suffix_of(path)
    if ending in READ_SUFFIXES:
        return path.with_name(name[: -len(ending)] + ".json")
    return path.with_name(name + ".json")


def _code_dict(code) -> dict[str, str]:
    return {"value": code.value, "scheme": code.scheme_designator, "meaning": code.meaning}


def sidecar_content(table: LabelTable, label_ids: list[int], extra: dict[str, Any]) -> dict[str, Any]:
    labels = []
    for label_id in label_ids:
        info = table.get(label_id)
        c = codes_for(info.name)
        labels.append({**info.to_dict(), "category": _code_dict(c.category),
                       "type": _code_dict(c.type)})
    return {"format": SIDECAR_FORMAT, "labels": labels, **extra}


def _write_image(volume: Volume, path: Path, fields: dict[str, str] | None = None) -> None:
    import SimpleITK as sitk

    image = volume.to_sitk()
    for key, value in (fields or {}).items():
        image.SetMetaData(key, value)
    writer = sitk.ImageFileWriter()
    writer.SetFileName(str(path))
    writer.SetUseCompression(True)
    try:
        writer.Execute(image)
    except RuntimeError as exc:
        raise InputError(f"could not write {path.name}: {str(exc).splitlines()[-1]}") from None


def write_nifti_labels(labels: Volume, table: LabelTable, label_ids: list[int], path: Path,
                       sidecar: Path, sidecar_extra: dict[str, Any]) -> None:
    """Write the integer label image to ``path`` and its label description to ``sidecar``."""
    _write_image(labels, path)
    content = sidecar_content(table, label_ids, sidecar_extra)
    sidecar.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def write_nrrd_labels(labels: Volume, table: LabelTable, label_ids: list[int], path: Path) -> None:
    """Write the label image with the header fields 3D Slicer reads as named segments."""
    _write_image(labels, path, segmentation_fields(labels.array, table, label_ids))


def write_image(volume: Volume, path: Path) -> None:
    """Write a (grey-scale or float) image as NIfTI/NRRD: no identifiers travel in these formats."""
    _write_image(volume, path)


# Reading ------------------------------------------------------------------------------------------
def _sidecar(path: str | Path) -> dict[str, Any] | None:
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        content = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(content, dict):
            raise ValueError("not a JSON object")
        return content
    except (OSError, ValueError) as exc:
        raise InputError(f"the label sidecar {side.name} is malformed: {exc}") from None


def read_sidecar(path: str | Path) -> LabelTable | None:
    """The label table of a NIfTI/NRRD file's JSON sidecar, if there is one."""
    content = _sidecar(path)
    if content is None or "labels" not in content:
        return None
    try:
        return LabelTable.from_list(content["labels"])
    except (KeyError, TypeError) as exc:
        raise InputError(f"the label sidecar of {Path(path).name} is malformed: {exc}") from None


def _provenance_metadata(path: Path) -> dict[str, Any]:
    """``provenance``/``model_name``/``model_version`` metadata keys from a Candor sidecar."""
    content = _sidecar(path) or {}
    prov = content.get("provenance") or {}
    if not isinstance(prov, dict):
        return {}
    keys = {"provenance": prov.get("kind"), "model_name": prov.get("model_name"),
            "model_version": prov.get("model_version")}
    return {k: v for k, v in keys.items() if v}


def read_label_file(path: str | Path) -> tuple[Volume, LabelTable]:
    """A label map file (NIfTI, NRRD, MHA) with its label table (sidecar, Slicer fields, or ids)."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise InputError(f"the mask file does not exist: {path.name}")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError:
        raise InputError(f"{path.name} is not a readable NIfTI, NRRD or MHA image") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path.name} is not a single 3-D label map (a multi-layer Slicer "
                         "segmentation has overlapping segments: export it as a label map)")
    fields = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()}
    metadata = {"source_format": path.suffix.lstrip(".").lower(), **_provenance_metadata(path)}
    volume = Volume.from_sitk(image, modality="SEG", metadata=metadata)
    table = read_sidecar(path) or table_from_fields(fields)
    if table is None:
        present = [int(v) for v in np.unique(volume.array) if v > 0] if volume.array.dtype.kind in "iu" else []
        table = LabelTable([LabelTable().get(v) for v in present])
    return volume, table
