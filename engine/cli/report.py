"""``candor report MASK --reference PATH``: the reading report of one label, as DICOM SR, HTML, PDF.

The lesion table (:func:`engine.reading.lesion_table`), the AI provenance and the trust verdict
become one :class:`engine.reading.findings.Findings`, which feeds both the DICOM SR Measurement
Report (:mod:`engine.export.sr`, ``--sr``) and the human-readable page
(:mod:`engine.reading.report`, ``--html``; ``--pdf`` prints that page with Qt, so it is offered by
``candor report``, not by ``python -m engine report``, which has no GUI toolkit).

Provenance, as ``candor export-seg`` reads it: the mask's Candor sidecar, overridden by
``--provenance/--model/--model-version``; ``--analysis`` (the ``--report`` JSON of
``candor segment``) adds the model and what its trust check said. Patient identifiers appear in
the HTML/PDF only with ``--include-identifiers`` (the SR belongs to the patient's study and keeps
its patient module, as the SEG does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.cli.lesions import add_table_arguments
from engine.errors import InputError


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="the reading report of a label: DICOM SR, HTML or PDF",
        description="Write the report of one label of MASK on its image: the lesion table "
                    "(volume, RECIST long/short axis, centroid, the model's doubt), the AI "
                    "provenance and trust verdict in plain words, and a key image per finding. "
                    "--sr writes a DICOM SR Measurement Report (TID 1500) for the PACS; --html "
                    "and --pdf a page to read or print, without patient identifiers unless "
                    "--include-identifiers.")
    p.add_argument("mask", metavar="MASK", help="a label map file (NIfTI/NRRD/MHA)")
    p.add_argument("--reference", required=True, metavar="PATH",
                   help="the image the mask was drawn on (a DICOM folder for --sr)")
    p.add_argument("--series", metavar="UID", help="series to use when PATH holds several")
    add_table_arguments(p)
    p.add_argument("--analysis", metavar="JSON",
                   help="the --report JSON of `candor segment`: the model and its trust verdict")
    p.add_argument("--provenance", choices=("ai", "corrected", "manual"),
                   help="who made the mask (default: from the mask's sidecar, else manual)")
    p.add_argument("--model", help="model name (for --provenance ai/corrected)")
    p.add_argument("--model-version", help="model version")
    p.add_argument("--seg", metavar="SEG.dcm",
                   help="the DICOM SEG of this mask, referenced by the SR's findings")
    p.add_argument("--sr", metavar="OUT.dcm", help="write the DICOM SR here")
    p.add_argument("--html", metavar="OUT.html", help="write the report page here")
    p.add_argument("--pdf", metavar="OUT.pdf", help="write the report page as PDF here")
    p.add_argument("--include-identifiers", action="store_true",
                   help="show the patient's name, ID, birth date and the accession in HTML/PDF")
    p.set_defaults(func=run, pdf_writer=None)


def _analysis(path: str | None) -> dict:
    if not path:
        return {}
    p = Path(path)
    try:
        content = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"the analysis report does not exist: {p.name}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the analysis report {p.name} is not JSON ({type(exc).__name__}); give "
                         "the --report file of `candor segment`") from None
    if not isinstance(content, dict) or not isinstance(content.get("model"), dict):
        raise InputError(f"{p.name} is not a `candor segment --report` file (no model in it)")
    return content


def provenance(args, mask_metadata: dict):
    """The :class:`AIProvenance` of the report (see the module doc)."""
    from engine.export import Provenance
    from engine.reading.findings import AIProvenance

    report = _analysis(args.analysis)
    model = report.get("model") or {}
    base = Provenance.from_metadata(mask_metadata)
    name = args.model or model.get("name") or base.model_name
    version = args.model_version or model.get("version") or base.model_version
    if args.provenance:
        kind = args.provenance
    elif report:  # a segment report says a model made it; the sidecar may say a person corrected it
        kind = "corrected" if base.kind == "corrected" else "ai"
    else:
        kind = base.kind
    if kind in ("ai", "corrected") and not name:
        raise InputError(f"--provenance {kind} needs the model's name (--model, or --analysis)")
    ood = report.get("ood") if isinstance(report.get("ood"), dict) else None
    flag = None if ood is None or ood.get("flag") is None else bool(ood["flag"])
    reasons = tuple(str(r) for r in (ood or {}).get("reasons") or ())
    if kind == "manual":
        name = version = flag = None
        reasons = ()
    return AIProvenance(kind, name, version, flag, reasons)


def _segmentation(path: str | None):
    if not path:
        return None
    import pydicom

    p = Path(path)
    if not p.is_file():
        raise InputError(f"the DICOM SEG does not exist: {p.name}")
    try:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise InputError(f"{p.name} is not a DICOM file ({type(exc).__name__})") from None
    if ds.get("Modality") != "SEG":
        raise InputError(f"{p.name} is not a DICOM SEG (modality {ds.get('Modality', 'none')})")
    return ds


def run(args) -> int:
    from engine.cli.info import load_announced
    from engine.cli.lesions import label_id, table_rows
    from engine.export import read_label_file
    from engine.reading.findings import Findings
    from engine.reading.report import patient_identifiers

    if not (args.sr or args.html or args.pdf):
        raise InputError("say what to write: --sr OUT.dcm, --html OUT.html and/or --pdf OUT.pdf")
    if args.pdf and args.pdf_writer is None:
        raise InputError("--pdf needs the viewer's Qt (use `candor report`); this command can "
                         "write --html and --sr")
    mask, table = read_label_file(args.mask)
    label = label_id(args.label, table)
    prov = provenance(args, mask.metadata)
    segmentation = _segmentation(args.seg)
    if not Path(args.reference).exists():
        raise InputError(f"the reference does not exist: {Path(args.reference).name}")
    image = load_announced(args.reference, args.series)
    if not mask.geometry.is_close(image.geometry):
        raise InputError("the mask is not on the reference's grid (size, spacing, origin or "
                         "direction differ); give the image the mask was drawn on")
    ids = patient_identifiers(image) if args.include_identifiers else None
    rows = table_rows(args, mask, label)
    findings = Findings(label, table.get(label).name, tuple(rows), connectivity=args.connectivity,
                        min_ml=args.min_ml, provenance=prov)
    written = []
    if args.sr:
        from engine.export.sr import write_sr

        written.append(write_sr(findings, image, args.sr, segmentation=segmentation))
    if args.html or args.pdf:
        from engine.reading.report import build_html, write_html

        page = build_html(findings, image, mask, table, identifiers=ids)
        if args.html:
            written.append(write_html(page, args.html))
        if args.pdf:
            written.append(args.pdf_writer(page, args.pdf))
    print(f"{len(rows)} finding{'' if len(rows) == 1 else 's'} of label {label} "
          f"({findings.label_name}); {prov.verdict()}", file=sys.stderr)
    for path in written:
        print(f"wrote {Path(path)}", file=sys.stderr)
    return 0
