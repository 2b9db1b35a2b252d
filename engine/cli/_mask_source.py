"""What ``MASK`` names for ``candor export-seg``: a label file, or a correction in the queue (CLI only).

A queued correction is the corrected mask with its label table and the model that produced the
AI mask (so its segments are SEMIAUTOMATIC with that model's name and version). The queue keeps
only keyed pseudonyms of the study and series UIDs; they let us check that the reference given
on the command line is the series the correction was drawn on, without storing its UID.
Resolving a queue id lives here, in the CLI, so that :mod:`engine.export` never imports
:mod:`engine.corrections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError
from engine.labels import LabelTable
from engine.volume import Volume


@dataclass
class MaskSource:
    mask: Volume
    table: LabelTable
    series_pseudonym: str | None = None   # queued corrections only
    queue_root: Path | None = None


def load_mask(spec: str, *, float_map: bool = False) -> MaskSource:
    """The mask volume and its label table from a file path or a queued correction id."""
    path = Path(spec)
    if path.exists():
        if float_map:
            from engine.io import load

            return MaskSource(load(path), LabelTable())
        from engine.export.label_files import read_label_file

        return MaskSource(*read_label_file(path))
    if float_map:
        raise InputError(f"the map file does not exist: {path.name}")
    if any(sep in spec for sep in ("/", "\\", ".")):
        raise InputError(f"the mask file does not exist: {path.name}")
    return _from_queue(spec)


def _from_queue(correction_id: str) -> MaskSource:
    from engine.corrections import CorrectionQueue

    with CorrectionQueue() as queue:
        correction = queue.load(correction_id)  # InputError when the id is unknown
        root = queue.root
    item = correction.item
    metadata = {"provenance": "manual"}
    if item.model:
        metadata = {"provenance": "corrected", "model_name": item.model["name"],
                    "model_version": item.model["version"]}
    mask = correction.corrected.with_array(correction.corrected.array, modality="SEG",
                                           metadata=metadata)
    return MaskSource(mask, correction.table, item.series, root)


def check_same_series(source: MaskSource, reference: Volume) -> None:
    """Refuse a reference series other than the one a queued correction was drawn on."""
    if source.series_pseudonym is None or source.queue_root is None:
        return
    from engine.corrections.pseudonym import load_or_create_secret, pseudonym

    uid = reference.metadata.get("series_uid")
    if not uid:
        return
    if pseudonym(load_or_create_secret(source.queue_root), uid, "series") != source.series_pseudonym:
        raise InputError("the reference is not the series this correction was drawn on; give "
                         "the original series with --reference (and --series)")
