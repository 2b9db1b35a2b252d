"""Fill a preallocated volume array slice by slice, in place, from DICOM files.

Uncompressed little-endian pixels are read with ``readinto`` straight into the volume (or into a
per-thread slice buffer when values must be converted); everything else (compressed, big endian,
deflated) goes through pydicom's decoders one file at a time. Never a float64 copy of the volume:
output is the stored integer type when rescale is the identity or exact in that type, float32
when slopes/intercepts vary or are fractional.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from engine.errors import CandorError, InputError, UnsupportedError
from engine.io import dicomlib
from engine.io.guard import MAX_VOXEL_BYTES, boundary, check_allocation, position
from engine.io.headers import SliceHeader, decoder_hint
from engine.jobs import CancelToken, ProgressCallback, report

log = logging.getLogger(__name__)

MAX_VOLUME_BYTES = MAX_VOXEL_BYTES  # the default; see engine.io.guard (CANDOR_MAX_VOLUME_BYTES)


@dataclass(frozen=True)
class PixelPlan:
    stored: np.dtype  # dtype of stored values
    out: np.dtype  # dtype of the volume
    rescales: list[tuple[float, float]]  # per slice, k order
    invert: bool  # MONOCHROME1: stored values are inverted so that higher = brighter
    deferred: bool  # integer rescale applied after reading, once the value range is known
    mask_bits: int  # BitsStored when smaller than BitsAllocated, else 0
    signed: bool

    @property
    def stored_range(self) -> tuple[int, int]:
        bits = self.mask_bits or self.stored.itemsize * 8
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.signed else (0, (1 << bits) - 1)


def plan_pixels(headers: list[SliceHeader]) -> PixelPlan:
    h = headers[0]
    if h.samples != 1 or h.photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise UnsupportedError(f"colour images ({h.photometric}) cannot be loaded as a volume")
    if h.bits_allocated not in (8, 16, 32):
        raise UnsupportedError(f"{h.bits_allocated}-bit pixels are not supported in image series")
    if any(x.bits_allocated != h.bits_allocated or x.signed != h.signed for x in headers):
        raise InputError("slices of this stack store pixels in different formats")
    stored = np.dtype(f"{'i' if h.signed else 'u'}{h.bits_allocated // 8}")
    rescales = [(x.slope, x.intercept) for x in headers]
    mask = h.bits_stored if h.bits_stored < h.bits_allocated else 0
    plan = PixelPlan(stored, stored, rescales, h.photometric == "MONOCHROME1", False, mask, h.signed)
    return _choose_output(plan)


def _choose_output(plan: PixelPlan) -> PixelPlan:
    pairs = set(plan.rescales)
    if pairs == {(1.0, 0.0)}:
        return plan
    slope, intercept = next(iter(pairs))
    exact = len(pairs) == 1 and float(slope).is_integer() and float(intercept).is_integer()
    if not exact:
        return _replace(plan, out=np.dtype(np.float32))
    lo, hi = sorted(slope * v + intercept for v in plan.stored_range)
    for dtype in (plan.stored, np.dtype(np.int16), np.dtype(np.uint16)):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return _replace(plan, out=dtype)
    return _replace(plan, deferred=True)  # read stored values, rescale in place if they fit


def _replace(plan: PixelPlan, **kw) -> PixelPlan:
    return replace(plan, **kw)


def available_memory() -> int | None:
    """Bytes the system can still give us (Linux ``MemAvailable``; psutil elsewhere), if known."""
    try:
        with open("/proc/meminfo") as fp:
            for line in fp:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        return None


def allocate(shape: tuple[int, int, int], dtype: np.dtype) -> np.ndarray:
    """The volume's array, refused up front when it cannot fit (np.empty alone would not fail)."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    check_allocation(nbytes, "the volume")
    free = available_memory()
    if free is not None and nbytes > 0.9 * free:
        raise InputError(f"the volume needs {nbytes / 1024**3:.1f} GiB of memory but only "
                         f"{free / 1024**3:.1f} GiB is available; close other work or load a "
                         "smaller series")
    try:
        return np.empty(shape, dtype=dtype)
    except MemoryError:
        raise InputError(f"not enough memory for a {nbytes / 1024**3:.1f} GiB volume") from None


def fill(array: np.ndarray, headers: list[SliceHeader], plan: PixelPlan, *,
         progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
         workers: int | None = None) -> np.ndarray:
    """Read every slice into ``array[k]``; return the final array (a new one only if widened)."""
    filler = _SliceFiller(array, plan)
    n = len(headers)
    raw = [k for k, h in enumerate(headers) if h.pixel_offset is not None]
    coded = [k for k, h in enumerate(headers) if h.pixel_offset is None and h.frame_index is None]
    frames = [k for k, h in enumerate(headers) if h.pixel_offset is None and h.frame_index is not None]
    if frames:  # compressed multi-frame: decode the file once, frame by frame, in file order
        filler.decoded_frames(headers, frames, progress=progress, cancel=cancel)
    done = len(frames)
    if workers is None and len(coded) > 1:  # the first slice says whether processes pay off
        done, coded = _coded_in_processes(filler, headers, coded, progress, cancel, done, n)
    raw_serial = False
    if workers is None and raw:
        probed, raw_serial = _probe_serially(raw, headers, filler)
        done, raw = done + len(probed), raw[len(probed):]
        report(progress, cancel, done / n, f"reading pixels ({done}/{n})")
    workers = workers or min(4, (os.cpu_count() or 2) + 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="candor-load") as pool:
        for ks, fn, serial in ((raw, filler.raw, raw_serial), (coded, filler.decoded, False)):
            step = max(8, workers * 8)
            for start in range(0, len(ks), step):
                chunk = ks[start:start + step]
                report(None, cancel, 0.0)  # stop before the next chunk if cancelled
                if serial:
                    for k in chunk:
                        fn(k, headers[k])
                else:
                    list(pool.map(lambda k, fill=fn: fill(k, headers[k]), chunk))
                done += len(chunk)
                report(progress, cancel, done / n, f"reading pixels ({done}/{n})")
    if plan.deferred:
        return _apply_deferred(array, plan, filler.lo, filler.hi)
    return array


def _coded_in_processes(filler: _SliceFiller, headers: list[SliceHeader], coded: list[int],
                        progress, cancel, done: int, n: int) -> tuple[int, list[int]]:
    """Decode ``coded`` on every core when that pays off (:mod:`engine.io.decode_pool`);
    ``(slices done, slices still to decode)``."""
    from engine.io import decode_pool

    began = time.perf_counter()
    filler.decoded(coded[0], headers[coded[0]])
    first_s, done, rest = time.perf_counter() - began, done + 1, coded[1:]
    report(progress, cancel, done / n, f"decoding pixels ({done}/{n})")
    if decode_pool.processes_pay_off(first_s, len(rest)) and decode_pool.decode_in_processes(
            filler, headers, rest, progress=progress, cancel=cancel, done=done, total=n):
        return done + len(rest), []
    return done, rest


_PROBE_SLICES = 16
_FAST_BYTES_PER_S = 1e9  # the page cache gives ~10 GB/s; a disk or a share well under 1 GB/s
_FAST_SLICE_S = 2e-4  # small slices: an open + read from the page cache takes ~0.02 ms


def _probe_serially(raw: list[int], headers: list[SliceHeader],
                    filler: _SliceFiller) -> tuple[list[int], bool]:
    """Read the first raw slices in this thread: ``(slices read, whether at page-cache speed)``.

    From the page cache one thread is fastest (9 ms for 200 512×512 slices, 11 ms with 2–3
    threads, more with the pool's hand-offs); from a cold disk or a network share threads
    overlap the waits."""
    probe = raw[:_PROBE_SLICES]
    began = time.perf_counter()
    for k in probe:
        filler.raw(k, headers[k])
    took = max(time.perf_counter() - began, 1e-9)
    rate = filler.array[0].nbytes * len(probe) / took
    fast = len(probe) == _PROBE_SLICES and (rate > _FAST_BYTES_PER_S
                                            or took / len(probe) < _FAST_SLICE_S)
    return probe, fast


class _SliceFiller:
    def __init__(self, array: np.ndarray, plan: PixelPlan) -> None:
        self.array, self.plan = array, plan
        self.local = threading.local()
        self.direct = (plan.out == plan.stored and not plan.invert and not plan.mask_bits
                       and (plan.deferred or set(plan.rescales) == {(1.0, 0.0)}))
        self.lock = threading.Lock()
        self.lo, self.hi = np.inf, -np.inf

    def _scratch(self) -> np.ndarray:
        buf = getattr(self.local, "buf", None)
        if buf is None:
            buf = self.local.buf = np.empty(self.array.shape[1:], dtype=self.plan.stored)
        return buf

    def where(self, k: int) -> str:
        return position(k, self.array.shape[0])

    def raw(self, k: int, h: SliceHeader) -> None:
        target = self.array[k] if self.direct else self._scratch()
        with boundary(f"the file of {self.where(k)}"):
            with open(h.path, "rb") as fp:
                fp.seek(h.pixel_offset)
                got = fp.readinto(memoryview(target).cast("B"))
        if got != target.nbytes:
            raise InputError(f"the file of {self.where(k)} is truncated (it changed since the "
                             "scan, or the disk returned fewer bytes)")
        if not self.direct:
            self._convert(k, target)
        elif self.plan.deferred:
            self._track(target)

    def decoded(self, k: int, h: SliceHeader) -> None:
        self.place_decoded(k, decode_slice(h, self.where(k)))

    def place_decoded(self, k: int, pixels: np.ndarray) -> None:
        """Put one decoded slice into ``array[k]`` (rescale, inversion, dtype of the plan)."""
        if pixels.shape != self.array.shape[1:]:
            raise InputError(f"{self.where(k)} decodes to {pixels.shape} pixels, the stack has "
                             f"{self.array.shape[1:]}")
        scratch = self._scratch()
        scratch[...] = pixels  # pydicom already applied BitsStored and the sign
        self._convert(k, scratch, masked=True)

    def decoded_frames(self, headers: list[SliceHeader], ks: list[int], *,
                       progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        pydicom = dicomlib.pydicom()
        from pydicom.pixels import iter_pixels

        where = {headers[k].frame_index: k for k in ks}
        indices = sorted(where)
        h = headers[ks[0]]
        name = pydicom.uid.UID(h.transfer_syntax).name

        def subject(f: int) -> str:  # the frame being decoded when the decoder fails
            return f"the {name} pixel data of frame {indices[f] + 1} of the multi-frame file"

        guard = boundary(subject(0), "decoded", convert=lambda exc: _missing_decoder(exc, h))
        with guard:
            ds = pydicom.dcmread(h.path, force=True)
            _check_codestream(ds, h, indices, subject)
            guard.subject = subject(0)
            for f, pixels in enumerate(iter_pixels(ds, indices=indices)):
                if pixels.shape != self.array.shape[1:]:
                    raise InputError(f"frame {indices[f] + 1} of the multi-frame file decodes to "
                                     f"{pixels.shape} pixels, the stack has {self.array.shape[1:]}")
                self._scratch()[...] = pixels
                self._convert(where[indices[f]], self._scratch(), masked=True)
                if f % 8 == 0:
                    report(progress, cancel, f / len(headers), f"decoding frames ({f}/{len(ks)})")
                guard.subject = subject(min(f + 1, len(indices) - 1))

    def _convert(self, k: int, raw: np.ndarray, masked: bool = False) -> None:
        plan = self.plan
        if plan.mask_bits and not masked:
            _apply_bits_stored(raw, plan.mask_bits, plan.signed)
        if plan.invert:
            lo, hi = plan.stored_range
            np.subtract(lo + hi, raw, out=raw, casting="unsafe")
        out = self.array[k]
        slope, intercept = plan.rescales[k]
        if plan.deferred or (slope, intercept) == (1.0, 0.0):
            out[...] = raw
            if plan.deferred:
                self._track(raw)
        elif out.dtype == np.float32:
            np.multiply(raw, np.float32(slope), out=out, dtype=np.float32)
            out += np.float32(intercept)
        else:
            wide = raw.astype(np.int64) * int(slope) + int(intercept)
            out[...] = wide

    def _track(self, values: np.ndarray) -> None:
        lo, hi = values.min(), values.max()
        with self.lock:
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)


def _apply_bits_stored(raw: np.ndarray, bits: int, signed: bool) -> None:
    """Keep the low ``bits`` bits (overlays or garbage may live above them); sign-extend."""
    width = raw.dtype.itemsize * 8
    if signed:
        shift = width - bits
        np.left_shift(raw, shift, out=raw)
        np.right_shift(raw, shift, out=raw)
    else:
        np.bitwise_and(raw, (1 << bits) - 1, out=raw)


def _apply_deferred(array: np.ndarray, plan: PixelPlan, lo: float, hi: float) -> np.ndarray:
    """Integer rescale shared by all slices, applied once the real value range is known."""
    slope, intercept = int(plan.rescales[0][0]), int(plan.rescales[0][1])
    out_lo, out_hi = sorted((slope * int(lo) + intercept, slope * int(hi) + intercept))
    info = np.iinfo(array.dtype)
    if info.min <= out_lo and out_hi <= info.max:
        scaled = sorted((slope * int(lo), slope * int(hi)))
        in_place = info.min <= scaled[0] and scaled[1] <= info.max
        for k in range(array.shape[0]):  # slice by slice, no whole-volume temporary
            if in_place:
                if slope != 1:
                    np.multiply(array[k], slope, out=array[k], casting="unsafe")
                np.add(array[k], intercept, out=array[k], casting="unsafe")
            else:
                array[k] = array[k].astype(np.int64) * slope + intercept
        return array
    log.debug("rescaled values exceed %s; widening to int32", array.dtype)
    wide = np.empty(array.shape, dtype=np.int32)
    for k in range(array.shape[0]):
        wide[k] = array[k].astype(np.int64) * slope + intercept
    return wide


def decode_slice(h: SliceHeader, where: str) -> np.ndarray:
    """Decode one file's (or one frame's) pixels, behind the decoder boundary."""
    pydicom = dicomlib.pydicom()
    subject = f"the {pydicom.uid.UID(h.transfer_syntax).name} pixel data of {where}"
    with boundary(subject, "decoded", convert=lambda exc: _missing_decoder(exc, h)):
        ds = pydicom.dcmread(h.path, force=True)
        _check_codestream(ds, h, [h.frame_index or 0], lambda i: subject)
        if h.frame_index is not None:
            from pydicom.pixels import pixel_array

            return pixel_array(ds, index=h.frame_index)
        return ds.pixel_array


def _check_codestream(ds, h: SliceHeader, indices: list[int], subject_of) -> None:
    """Compare each wanted compressed frame with the header before a decoder sees it."""
    pydicom = dicomlib.pydicom()
    syntax = pydicom.uid.UID(h.transfer_syntax)
    if not syntax.is_encapsulated or "PixelData" not in ds:
        return
    from pydicom.encaps import generate_frames

    from engine.io import codestream  # imports pydicom's UID lists: only for compressed data

    wanted = {i: n for n, i in enumerate(indices)}
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    frames = generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1),
                             extended_offsets=extended)
    for i, frame in enumerate(frames):
        if i in wanted:
            for note in codestream.check_frame(frame, syntax, h.rows, h.columns, h.samples,
                                    h.bits_allocated, subject_of(wanted[i])):
                if note not in h.warnings:
                    h.warnings.append(note)
        if i >= indices[-1]:
            break


def _missing_decoder(exc: BaseException, h: SliceHeader) -> CandorError | None:
    """A missing decoder names the package to install; anything else is a damaged file."""
    text = str(exc).lower() if isinstance(exc, (RuntimeError, NotImplementedError)) else ""
    if "missing dependencies" in text or "no pixel data decoders" in text:
        syntax = dicomlib.pydicom().uid.UID(h.transfer_syntax)
        return UnsupportedError(f"no decoder for {syntax.name} is installed; install "
                                f"{decoder_hint(h.transfer_syntax)}")
    return None
