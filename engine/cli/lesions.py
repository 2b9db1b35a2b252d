"""``candor lesions MASK --image PATH``: the lesion table of one label, as text or JSON.

One row per connected component (:func:`engine.reading.lesion_table`): volume, RECIST long axis
and its perpendicular, LPS centroid, slice range and, given the maps ``candor segment`` writes,
the model's mean/max epistemic uncertainty and mean saliency inside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import InputError
from engine.labels import LabelTable

#: Components of ``candor segment --uncertainty``'s vector image: total, aleatoric, epistemic[, disagreement].
EPISTEMIC = 2


def register(sub) -> None:
    p = sub.add_parser(
        "lesions", help="the lesion table of a label: size, diameters, position, model doubt",
        description="List the connected components of one label of MASK, largest first: voxels, "
                    "volume (mL), longest axial diameter and the longest diameter perpendicular "
                    "to it (mm, RECIST/WHO; axial = the slices of the volume's third axis), "
                    "centroid (LPS mm), slice range and, with --uncertainty/--saliency, the mean "
                    "and max epistemic uncertainty and the mean saliency inside each.")
    p.add_argument("mask", metavar="MASK", help="a label map file (NIfTI/NRRD/MHA)")
    p.add_argument("--image", required=True, metavar="PATH",
                   help="the image the mask was drawn on (DICOM folder/file or image file)")
    p.add_argument("--series", metavar="UID", help="series to use when PATH holds several")
    add_table_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(func=run)


def add_table_arguments(p) -> None:
    """The lesion table's options, shared with ``candor report``: label, maps, connectivity, size."""
    p.add_argument("--label", metavar="NAME|ID",
                   help="label name or id (default: the label named 'lesion')")
    p.add_argument("--uncertainty", metavar="UNC",
                   help="uncertainty map on the mask's grid: the vector image of `candor segment "
                        "--uncertainty` (its epistemic component is used) or a scalar map")
    p.add_argument("--saliency", metavar="SAL", help="saliency map on the mask's grid (scalar)")
    p.add_argument("--connectivity", type=int, choices=(6, 26), default=26,
                   help="voxel neighbours that join a component: 6 (faces) or 26 (default)")
    p.add_argument("--min-ml", type=float, default=0.01, metavar="X",
                   help="components under X mL are listed but marked small (default 0.01)")


def table_rows(args, mask, label: int) -> list:
    """The lesion table of ``label`` with the options of :func:`add_table_arguments`."""
    from engine.reading import lesion_table

    unc = read_map(args.uncertainty, "uncertainty") if args.uncertainty else None
    sal = read_map(args.saliency, "saliency") if args.saliency else None
    return lesion_table(mask, label, connectivity=args.connectivity, uncertainty=unc,
                        saliency=sal, min_ml=args.min_ml)


def label_id(spec: str | None, table: LabelTable) -> int:
    """``--label``: an id, a name of the mask's label table, or by default the label 'lesion'."""
    if spec is None:
        for info in table:
            if info.name.lower() == "lesion":
                return info.id
        names = ", ".join(f"{info.id} {info.name}" for info in table) or "none named"
        raise InputError(f"the mask names no 'lesion' label; choose one with --label NAME or ID "
                         f"(labels: {names})")
    if spec.strip().isdigit():
        return int(spec)
    return table.by_name(spec.strip()).id


def read_map(spec: str, what: str):
    """A scalar map; for ``uncertainty`` also the 3- or 4-component vector image (epistemic)."""
    from engine.io import read_image

    path = Path(spec)
    if not path.is_file():
        raise InputError(f"the {what} map does not exist: {path.name}")
    components = _components(path, what)
    if components == 1:
        return read_image(path)
    if what != "uncertainty" or components not in (3, 4):
        raise InputError(f"the {what} map {path.name} holds {components} components per voxel; "
                         "give a scalar map" + (" or the 3- or 4-component vector image of "
                                                "`candor segment --uncertainty`"
                                                if what == "uncertainty" else ""))
    return _vector_component(path, EPISTEMIC, what)


def _components(path: Path, what: str) -> int:
    import SimpleITK as sitk

    from engine.io.guard import boundary

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    with boundary(f"the {what} map {path.name}"):
        reader.ReadImageInformation()
    return int(reader.GetNumberOfComponents())


def _vector_component(path: Path, index: int, what: str):
    """One component of a vector image as a float32 :class:`Volume` (headers checked first)."""
    import SimpleITK as sitk

    from engine.io.detached import data_files
    from engine.io.guard import boundary
    from engine.io.header_checks import check_header
    from engine.io.image_checks import sanitize_nonfinite
    from engine.volume import Volume

    check_header(path, data_files(path))
    with boundary(f"the {what} map {path.name}"):
        image = sitk.VectorIndexSelectionCast(sitk.ReadImage(str(path)), index, sitk.sitkFloat32)
    volume = Volume.from_sitk(image)
    note = sanitize_nonfinite(volume.array)
    if note:
        volume.warnings.append(note)
    return volume


def run(args) -> int:
    from engine.cli.info import load_announced
    from engine.export import read_label_file

    mask, table = read_label_file(args.mask)
    label = label_id(args.label, table)
    if not Path(args.image).exists():
        raise InputError(f"the image does not exist: {Path(args.image).name}")
    image = load_announced(args.image, args.series)
    if not mask.geometry.is_close(image.geometry):
        raise InputError("the mask is not on the image's grid (size, spacing, origin or "
                         "direction differ); give the image the mask was drawn on")
    rows = table_rows(args, mask, label)
    name = table.get(label).name
    if args.json:
        print(json.dumps({"label": label, "name": name, "connectivity": args.connectivity,
                          "min_ml": args.min_ml, "lesions": [r.to_dict() for r in rows]}, indent=2))
    else:
        print(format_table(rows, label, name, args.connectivity, args.min_ml))
    return 0


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(rows, label: int, name: str, connectivity: int, min_ml: float) -> str:
    """The plain-text lesion table ``candor lesions`` prints without ``--json``."""
    head = (f"label {label} ({name}), {connectivity}-connected: {len(rows)} component"
            f"{'' if len(rows) == 1 else 's'}; * = under {min_ml:g} mL (shown, marked)")
    if not rows:
        return head
    lines = [head, f"{'#':>4} {'voxels':>8} {'mL':>9} {'long mm':>8} {'short mm':>8} {'at k':>5} "
                   f"{'slices':>9}  {'centroid LPS mm':<24} {'unc mean':>8} {'unc max':>8} {'sal mean':>8}"]
    for r in rows:
        centroid = "(" + ", ".join(f"{v:.1f}" for v in r.centroid_lps) + ")"
        lines.append(
            f"{str(r.index) + ('*' if r.small else ''):>4} {r.voxels:>8} {r.volume_ml:>9.3f} "
            f"{r.long_diameter_mm:>8.1f} {r.short_diameter_mm:>8.1f} {r.diameter_slice:>5} "
            f"{f'{r.slice_range[0]}-{r.slice_range[1]}':>9}  {centroid:<24} "
            f"{_num(r.uncertainty_mean, '.4f'):>8} {_num(r.uncertainty_max, '.4f'):>8} "
            f"{_num(r.saliency_mean, '.4f'):>8}")
    return "\n".join(lines)
