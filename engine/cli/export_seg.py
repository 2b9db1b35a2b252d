"""``candor export-seg``: write a mask (a label file or a queued correction) as NIfTI, NRRD or SEG."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from engine.errors import InputError
from engine.labels import LabelTable

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "export-seg", help="export a mask as NIfTI, NRRD or DICOM SEG on its reference image",
        description="Write MASK on the reference image's geometry. The format follows --out: "
                    ".nii.gz/.nii (with a JSON sidecar of label names and colours), .nrrd (with "
                    "3D Slicer segment fields) or .dcm (a DICOM Segmentation object referencing "
                    "the reference series). Nothing partial is ever left at --out.")
    p.add_argument("mask", metavar="MASK",
                   help="a label map file (NIfTI/NRRD/MHA) or the id of a queued correction")
    p.add_argument("--reference", required=True, metavar="PATH",
                   help="the image the mask was drawn on: a DICOM folder/file or an image file")
    p.add_argument("--series", metavar="UID", help="series to use when PATH holds several")
    p.add_argument("--out", required=True, metavar="OUT", help="output .nii.gz, .nrrd or .dcm")
    p.add_argument("--labels", metavar="JSON",
                   help="label names/colours: a JSON list of {id, name, color}, a model "
                        "manifest, or an installed model's NAME[@VERSION] (default: the mask's "
                        "own sidecar/header)")
    p.add_argument("--only", metavar="IDS", help="comma-separated label ids to export (default: all)")
    p.add_argument("--seg-type", choices=("binary", "fractional"), default="binary",
                   help="DICOM SEG segmentation type (default: binary)")
    p.add_argument("--map", choices=("probability", "uncertainty"),
                   help="MASK is a float probability/uncertainty map, not labels")
    p.add_argument("--provenance", choices=("ai", "corrected", "manual"),
                   help="who made the mask (default: from the mask's metadata/sidecar)")
    p.add_argument("--model", help="model name (for --provenance ai/corrected)")
    p.add_argument("--model-version", help="model version")
    p.add_argument("--deidentify", action="store_true",
                   help="apply the DICOM PS3.15 basic profile (research sharing); the default "
                        "keeps the reference study's identifiers (for the PACS)")
    p.add_argument("--pseudonym", help="subject code for PatientName/PatientID when de-identifying")
    p.add_argument("--include-image", action="store_true",
                   help="also write the reference image (DICOM SEG: its series, in OUT_images/)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(func=run)


def _table_from_json(path: str) -> LabelTable:
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the label list {Path(path).name}: {exc}") from None
    items = content.get("labels") if isinstance(content, dict) else content
    if not isinstance(items, list):
        raise InputError(f"{Path(path).name} holds no list of labels")
    return LabelTable.from_list(items)


def _labels_table(spec: str) -> LabelTable:
    """``--labels``: a JSON file (label list or model manifest), or an installed model's name."""
    if Path(spec).is_file():
        return _table_from_json(spec)
    from engine.models.discovery import find_model
    from engine.models.manifest import load_manifest

    info = find_model(spec)   # ModelError (a CandorError) names the installed models
    return load_manifest(info.path / "manifest.json").labels


def _options(args):
    from engine.export import ExportOptions, Provenance

    provenance = None
    if args.provenance or args.model:
        kind = args.provenance or "ai"
        provenance = Provenance(kind, args.model, args.model_version)
    only = None
    if args.only:
        try:
            only = tuple(int(v) for v in args.only.split(",") if v.strip())
        except ValueError:
            raise InputError("--only takes comma-separated label ids, e.g. 1,3") from None
    return ExportOptions(labels=only, seg_type=args.seg_type, deidentify=args.deidentify,
                         pseudonym=args.pseudonym, include_image=args.include_image,
                         provenance=provenance)


def run(args) -> int:
    from engine import export
    from engine.cli._mask_source import check_same_series, load_mask
    from engine.io import load

    options = _options(args)
    source = load_mask(args.mask, float_map=bool(args.map))
    mask, table = source.mask, source.table
    if args.labels:
        table = _labels_table(args.labels)
    if not Path(args.reference).exists():
        raise InputError(f"the reference series is missing: {Path(args.reference).name} does not exist; "
                         "nothing was written")
    reference = load(args.reference, series_uid=args.series)
    check_same_series(source, reference)
    if args.map:
        label = table.get(options.labels[0]) if options.labels else None
        result = export.export_float_map(mask, reference, args.out, kind=args.map, label=label,
                                         options=options)
    else:
        result = export.export_labels(mask, table, reference, args.out, options)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"wrote {result.path}", file=sys.stderr)
    return 0
