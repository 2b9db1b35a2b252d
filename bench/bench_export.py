"""Export benchmark: Candor's exporters vs the bare libraries they build on, same data, same run.

Generates (once, cached under ``.cache/bench_export``) an oblique 256×256×160 MR-like DICOM series
with a three-label brain-like mask (two nested ellipsoids and a small lesion), then measures the
median wall time of:

* NIfTI: ``export_labels(… .nii.gz)`` (checks, sidecar, atomic rename) vs nibabel saving the same
  array and affine; NRRD: ``export_labels(… .nrrd)`` (Slicer fields) vs pynrrd writing the same;
* DICOM SEG: ``export_labels(… .dcm)`` (reading and checking the 160 source headers, sparse
  frames, atomic write) vs highdicom building and saving the same SEG from pre-read headers;
* SEG import: ``import_seg`` onto the series (resampling included) vs highdicom's ``segread`` +
  ``get_volume``.

    python bench/bench_export.py [--repeats 3] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / ".cache" / "bench_export"
SHAPE = (160, 256, 256)   # k, j, i


def _geometry():
    from scipy.spatial.transform import Rotation

    from engine.volume import Geometry

    rot = Rotation.from_euler("xyz", [10, -6, 15], degrees=True).as_matrix()
    return Geometry(SHAPE[::-1], (0.94, 0.94, 1.1), (-120.0, -110.0, -80.0), rot.ravel())


def _mask(shape) -> np.ndarray:
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    c = np.asarray(shape) / 2
    r = ((k - c[0]) / 60) ** 2 + ((j - c[1]) / 100) ** 2 + ((i - c[2]) / 85) ** 2
    lab = np.zeros(shape, np.uint8)
    lab[r < 1.0] = 1
    lab[r < 0.55] = 2
    lab[((k - 70) / 6) ** 2 + ((j - 110) / 9) ** 2 + ((i - 150) / 7) ** 2 < 1] = 3
    return lab


def _series():
    from engine.io import load, write_series
    from engine.volume import Volume

    folder = CACHE / "series"
    if not (folder / f"IM{SHAPE[0] - 1:04d}.dcm").is_file():
        rng = np.random.default_rng(0)
        image = Volume(rng.integers(0, 1200, SHAPE).astype(np.int16), _geometry(), "MR")
        write_series(image, folder, modality="MR")
    return load(folder)


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(repeats: int) -> list[tuple[str, float, str, float]]:
    import highdicom as hd
    import nibabel as nib
    import nrrd
    import pydicom

    from engine.export import export_labels, import_seg
    from engine.export.options import Provenance
    from engine.export.seg_write import binary_frames, segment_descriptions
    from engine.labels import LabelInfo, LabelTable

    ref = _series()
    lab = _mask(SHAPE)
    mask = ref.with_array(lab, modality="SEG", metadata={})
    table = LabelTable([LabelInfo(1, "grey matter", (170, 170, 170)),
                        LabelInfo(2, "white matter", (250, 250, 225)),
                        LabelInfo(3, "lesion", (230, 25, 75))])
    out = Path(tempfile.mkdtemp(prefix="bench_export_"))
    affine_ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ref.geometry.affine_lps
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in ref.metadata["source_files"]]

    def peer_seg():
        seg = hd.seg.Segmentation(
            headers, binary_frames(lab, [1, 2, 3], "BINARY"), "BINARY",
            segment_descriptions(table, [1, 2, 3], Provenance()), hd.UID(), 1, hd.UID(), 1,
            "Candor", "Candor", "0", "0")
        seg.save_as(out / "peer.dcm")

    rows = [
        ("NIfTI label map", _median(lambda: export_labels(mask, table, ref, out / "m.nii.gz"), repeats),
         "nibabel save", _median(lambda: nib.save(nib.Nifti1Image(lab.transpose(2, 1, 0), affine_ras),
                                                  out / "peer.nii.gz"), repeats)),
        ("NRRD + Slicer fields", _median(lambda: export_labels(mask, table, ref, out / "m.nrrd"), repeats),
         "pynrrd write (gzip)", _median(lambda: nrrd.write(str(out / "peer.nrrd"), lab.transpose(2, 1, 0),
                                                           {"encoding": "gzip"}), repeats)),
        ("DICOM SEG (binary, sparse)", _median(lambda: export_labels(mask, table, ref, out / "m.dcm"), repeats),
         "highdicom Segmentation + save", _median(peer_seg, repeats)),
        ("SEG import onto the series", _median(lambda: import_seg(out / "m.dcm", ref), repeats),
         "highdicom segread + get_volume",
         _median(lambda: hd.seg.segread(out / "m.dcm").get_volume(), repeats)),
    ]
    seg = pydicom.dcmread(out / "m.dcm", stop_before_pixels=True)
    full = 3 * SHAPE[0]
    print(f"SEG: {int(seg.NumberOfFrames)} frames stored of {full} (label × slice), "
          f"{(out / 'm.dcm').stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = run(args.repeats)
    if args.markdown:
        print("| operation | Candor (s) | peer | peer (s) | Candor / peer |")
        print("| --- | ---: | --- | ---: | ---: |")
    for name, ours, peer, theirs in rows:
        if args.markdown:
            print(f"| {name} | {ours:.2f} | {peer} | {theirs:.2f} | {ours / theirs:.2f} |")
        else:
            print(f"{name:32s} {ours:7.2f} s   {peer:32s} {theirs:7.2f} s   ratio {ours / theirs:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
