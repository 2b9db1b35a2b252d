"""Content-addressed, atomically written NIfTI files of the correction queue.

Each image or mask is written as ``objects/<2 hex>/<sha256 of the file>.nii.gz`` through a temp file,
fsync and rename, so a file with a given name is always complete and can be verified by hashing it.
Written NIfTI files carry only the voxel grid: no patient name, ID, date, institution or free text
(SimpleITK writes no metadata that the image does not hold, and the images given here hold none).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.durable import replace_durably
from engine.editing.durable import CorruptFileError
from engine.volume import Geometry, Volume

log = logging.getLogger(__name__)

SUFFIX = ".nii.gz"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class BlobStore:
    """NIfTI files under ``root/objects`` named by the SHA-256 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "objects"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}{SUFFIX}"

    def put(self, array: np.ndarray, geometry: Geometry) -> str:
        """Write ``array`` on ``geometry`` as NIfTI; returns the file's digest (its name)."""
        import SimpleITK as sitk

        image = Volume(np.ascontiguousarray(array), geometry).to_sitk()  # voxels + grid only
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=self.root)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            sitk.WriteImage(image, str(tmp_path), useCompression=True)
            digest = _file_sha256(tmp_path)
            target = self.path(digest)
            target.parent.mkdir(exist_ok=True)
            if target.exists():
                tmp_path.unlink()
            else:
                replace_durably(tmp_path, target)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str, modality: str = "OT") -> Volume:
        """Read a stored volume back, verifying its checksum first."""
        import SimpleITK as sitk

        self.verify(digest)
        try:
            return Volume.from_sitk(sitk.ReadImage(str(self.path(digest))), modality=modality)
        except RuntimeError:
            raise CorruptFileError(f"a queued image cannot be read ({digest[:12]}…)") from None

    def verify(self, digest: str) -> None:
        path = self.path(digest)
        if not path.is_file():
            raise CorruptFileError(f"a queued image is missing ({digest[:12]}…)")
        if _file_sha256(path) != digest:
            raise CorruptFileError(f"a queued image does not match its checksum ({digest[:12]}…)")

    def digests(self) -> set[str]:
        return {p.name[: -len(SUFFIX)] for p in self.root.glob(f"*/*{SUFFIX}")}

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def sweep(self, keep: set[str], min_age_s: float = 3600.0) -> int:
        """Delete files no item references and temp files, older than ``min_age_s`` (a writer in
        another process may be about to reference a fresh one)."""
        now, removed = time.time(), 0
        for path in [*self.root.glob(f"*/*{SUFFIX}"), *self.root.glob(".tmp-*")]:
            name = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else ""
            if name in keep:
                continue
            try:
                if now - path.stat().st_mtime >= min_age_s:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        if removed:
            log.info("queue: removed %d unreferenced file(s)", removed)
        return removed

