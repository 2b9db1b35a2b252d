"""The DIMSE transport (``pynetdicom``): C-ECHO, C-FIND (study/series/image), C-GET, C-STORE.

Candor calls from its own AE title (``ServerProfile.calling_ae``), which the server must know.
Retrieval is C-GET, so no port of Candor's needs to be reachable from the server: the instances
come back on the same association (the SCP/SCU role is negotiated for each SOP class the series
holds, found by an image-level C-FIND first). That C-FIND also lists the SOP Instance UIDs, so an
interrupted retrieval asks only for what is missing. ``pynetdicom`` logs identifiers at debug
level and its errors repeat Candor's own messages: its logger is held at CRITICAL.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.errors import Cancelled
from engine.jobs import CancelToken, ProgressCallback, report
from engine.pacs import cache
from engine.pacs.base import (
    PacsError, PacsUnreachable, Query, RetrieveResult, SendResult, SeriesResult, StudyResult,
    as_int, modalities_of, require_instances, text,
)
from engine.pacs.profiles import ServerProfile

log = logging.getLogger(__name__)
#: SOP Instance UIDs per C-GET: a UI element's value is at most 64 KiB in explicit VR, ~1000 UIDs
GET_BATCH = 200
MAX_CONTEXTS = 127  # 128 presentation contexts per association, one is the C-GET model
_REJECT_REASONS = {
    3: "it does not know Candor's AE title '{calling}' (add it to the server's modalities)",
    7: "it is not called '{called}' (check the server's AE title)",
}


def quiet_pynetdicom() -> None:
    """pynetdicom's debug lines dump identifiers and its error lines repeat what Candor's own
    message says (rejections, refused connections): keep only its critical ones."""
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)


class DimseClient:
    """A :class:`~engine.pacs.base.PacsClient` over DIMSE."""

    def __init__(self, profile: ServerProfile, secret: str | None = None) -> None:
        quiet_pynetdicom()
        self.profile, self.name = profile, profile.name

    # -- association -------------------------------------------------------------------------
    def _ae(self, contexts: Sequence):
        from pynetdicom import AE

        ae = AE(ae_title=self.profile.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.profile.timeout
        ae.connection_timeout = self.profile.timeout
        for context in contexts:  # a SOP class UID, or (SOP class UID, transfer syntax)
            if isinstance(context, tuple):
                ae.add_requested_context(*context)
            else:
                ae.add_requested_context(context)
        return ae

    @contextlib.contextmanager
    def _association(self, contexts: Sequence, doing: str, roles=(), handlers=()) -> Iterator:
        from pynetdicom import evt

        from pynetdicom.pdu import A_ASSOCIATE_RJ

        seen: dict = {"opened": False, "answer": None, "rejection": None}

        def on_open(event):
            seen["opened"] = True

        def on_acse(event):
            seen["answer"] = getattr(event, "primitive", None)

        def on_pdu(event):  # on the DUL thread, as the PDU is decoded: before any race below
            if isinstance(event.pdu, A_ASSOCIATE_RJ):
                seen["rejection"] = event.pdu

        ae = self._ae(contexts)
        assoc = ae.associate(self.profile.host, self.profile.port, ae_title=self.profile.ae_title,
                             ext_neg=list(roles) or None,
                             evt_handlers=[(evt.EVT_CONN_OPEN, on_open), (evt.EVT_ACSE_RECV, on_acse),
                                           (evt.EVT_PDU_RECV, on_pdu), *handlers])
        if not assoc.is_established:
            ae.shutdown()
            raise self._not_established(assoc, seen, doing)
        assoc.unbind(evt.EVT_PDU_RECV, on_pdu)  # it has seen what it is for; spare every P-DATA
        assoc.candor_seen = seen  # what _check reads to tell a peer's A-ABORT from a lost link
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()

    def _not_established(self, assoc, seen: dict, doing: str) -> PacsError:
        where = self.profile.describe()
        answer, rejection = seen["answer"], seen["rejection"]
        # On loopback Orthanc's A-ASSOCIATE-RJ comes back at once: pynetdicom's DUL thread may
        # read it and close the transport before the requesting thread (acse
        # _negotiate_as_requestor) looks at socket._is_connected; that thread then aborts and
        # never reads the RJ primitive (is_aborted, no EVT_ACSE_RECV: 0.7-2 % of rejections in a
        # loop). The RJ PDU itself was seen on the DUL thread, so a rejection is told as one.
        rejected = assoc.is_rejected or rejection is not None or (
            type(answer).__name__ == "A_ASSOCIATE" and getattr(answer, "result", None) in (1, 2))
        if rejected:
            diagnostic = getattr(answer, "diagnostic", None)
            if diagnostic is None and rejection is not None:
                diagnostic = rejection.reason_diagnostic
            why = _REJECT_REASONS.get(diagnostic, "it gave reason {diag}").format(
                calling=self.profile.calling_ae, called=self.profile.ae_title, diag=diagnostic)
            return PacsError(f"{where} refused the association while {doing}: {why}")
        if seen["opened"] and answer is None:
            return PacsUnreachable(f"{where} accepted the connection but did not answer within "
                                   f"{self.profile.timeout:g} s while {doing}: is it a DICOM port? "
                                   "Try again or raise the timeout")
        if seen["opened"]:
            return PacsUnreachable(
                f"{where} aborted the association while {doing}: check the AE titles (Candor "
                f"calls as '{self.profile.calling_ae}', the server as '{self.profile.ae_title}') "
                "and that the server accepts Candor's")
        return PacsUnreachable(f"cannot reach {where} while {doing} (connection refused or no "
                               f"answer within {self.profile.timeout:g} s): check the host, the "
                               "port and that the server is running")

    def _check(self, status, doing: str, assoc=None) -> int:
        """The status code of a response; an empty one means the association broke."""
        if status is None or "Status" not in status:
            if assoc is not None and _aborted(assoc):
                last = getattr(assoc, "candor_seen", {}).get("answer")
                if type(last).__name__ == "A_ABORT" and getattr(last, "abort_source", None) == 0:
                    raise PacsError(f"{self.profile.describe()} ended the association while {doing}: "
                                    f"it may not know Candor's AE title '{self.profile.calling_ae}' "
                                    "or may not allow it this request")
                raise PacsUnreachable(f"the connection to {self.profile.describe()} was lost while "
                                      f"{doing}: the server stopped or the network dropped; what "
                                      "arrived is kept, run it again to resume")
            raise PacsUnreachable(f"{self.profile.describe()} stopped answering while {doing} "
                                  f"(timeout after {self.profile.timeout:g} s or connection lost)")
        return int(status.Status)

    # -- protocol --------------------------------------------------------------------------------
    def echo(self) -> str:
        from pynetdicom.sop_class import Verification

        start = time.perf_counter()
        with self._association([Verification], "checking the connection") as assoc:
            code = self._check(assoc.send_c_echo(), "answering C-ECHO", assoc)
        if code != 0:
            raise PacsError(f"{self.profile.describe()} answered C-ECHO with status 0x{code:04X}")
        return f"{self.profile.describe()} answered C-ECHO in {1000 * (time.perf_counter() - start):.0f} ms"

    def _find(self, identifier, doing: str) -> list:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

        found = []
        with self._association([FIND], doing) as assoc:
            for status, answer in assoc.send_c_find(identifier, FIND):
                code = self._check(status, doing, assoc)
                if code in (0xFF00, 0xFF01) and answer is not None:
                    found.append(answer)
                elif code != 0:
                    raise PacsError(f"{self.profile.describe()} failed the search while {doing} "
                                    f"(status 0x{code:04X})")
        return found

    def find_studies(self, query: Query) -> list[StudyResult]:
        from pydicom import Dataset

        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = ""
        ds.PatientID, ds.PatientName = query.patient_id, query.patient_name
        ds.StudyDate, ds.AccessionNumber = query.date_range(), query.accession
        ds.StudyDescription, ds.ModalitiesInStudy = query.description, query.modality.upper()
        ds.NumberOfStudyRelatedSeries = ds.NumberOfStudyRelatedInstances = ""
        log.info("C-FIND study search on %s (%s)", self.name, query)
        return [StudyResult(
            study_uid=text(a.get("StudyInstanceUID")), patient_name=text(a.get("PatientName")),
            patient_id=text(a.get("PatientID")), study_date=text(a.get("StudyDate")),
            description=text(a.get("StudyDescription")), accession=text(a.get("AccessionNumber")),
            modalities=modalities_of(a.get("ModalitiesInStudy")),
            series_count=as_int(a.get("NumberOfStudyRelatedSeries")),
            instance_count=as_int(a.get("NumberOfStudyRelatedInstances")))
            for a in self._find(ds, "searching for studies")][:query.limit]

    def find_series(self, study_uid: str) -> list[SeriesResult]:
        from pydicom import Dataset

        ds = Dataset()
        ds.QueryRetrieveLevel, ds.StudyInstanceUID, ds.SeriesInstanceUID = "SERIES", study_uid, ""
        ds.Modality = ds.SeriesNumber = ds.SeriesDescription = ds.NumberOfSeriesRelatedInstances = ""
        return [SeriesResult(
            study_uid=study_uid, series_uid=text(a.get("SeriesInstanceUID")),
            modality=text(a.get("Modality")), series_number=as_int(a.get("SeriesNumber")),
            description=text(a.get("SeriesDescription")),
            instance_count=as_int(a.get("NumberOfSeriesRelatedInstances")))
            for a in self._find(ds, "listing the study's series")]

    def _instances(self, study_uid: str, series_uid: str | None) -> list[tuple[str, str]]:
        from pydicom import Dataset

        ds = Dataset()
        ds.QueryRetrieveLevel, ds.StudyInstanceUID = "IMAGE", study_uid
        ds.SeriesInstanceUID = series_uid or ""
        ds.SOPInstanceUID = ds.SOPClassUID = ""
        return [(text(a.get("SOPInstanceUID")), text(a.get("SOPClassUID")))
                for a in self._find(ds, "listing the instances")]

    def retrieve(self, study_uid: str, series_uid: str | None, dest: Path, *,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> RetrieveResult:
        dest = Path(dest)
        listing = self._instances(study_uid, series_uid)
        require_instances(listing, self.profile, series_uid)
        missing = [(sop, cls) for sop, cls in listing if not cache.has_instance(dest, sop)]
        skipped = len(listing) - len(missing)
        cache.begin(dest)
        try:
            received = self._get(study_uid, missing, dest, progress, cancel, len(listing), skipped)
        finally:
            cache.discard_if_empty(dest)
        if sum(cache.has_instance(dest, sop) for sop, _ in listing) < len(listing):
            raise PacsError(f"{self.profile.describe()} sent {received} of the {len(missing)} "
                            "missing instances; the partial series is kept: retrieve again to resume")
        cache.finish(dest)
        report(progress, None, 1.0, f"{len(listing)} instances")
        return RetrieveResult(dest, received, skipped, len(listing))

    def _get(self, study_uid, missing, dest, progress, cancel, total, skipped) -> int:
        from pynetdicom import build_role, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

        if not missing:
            return 0
        classes = sorted({cls for _, cls in missing})
        got = {"n": 0, "stop": False}
        lock = threading.Lock()

        def on_store(event):
            if got["stop"] or (cancel is not None and cancel.cancelled):
                got["stop"] = True
                return 0xA702  # refused: the retrieval was cancelled
            ds = event.dataset
            cache.write_instance(dest, text(ds.SOPInstanceUID), event.encoded_dataset())
            with lock:
                got["n"] += 1
            return 0x0000

        doing = "retrieving the instances"
        contexts = [GET, *_storage_contexts(classes)]
        with self._association(contexts, doing, roles=[build_role(c, scp_role=True) for c in classes],
                               handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            for start in range(0, len(missing), GET_BATCH):
                identifier = _image_identifier(study_uid, missing[start:start + GET_BATCH])
                for status, _ in assoc.send_c_get(identifier, GET):
                    self._check(status, doing, assoc)
                    try:
                        report(progress, cancel, (skipped + got["n"]) / total,
                               f"instance {skipped + got['n']} of {total}")
                    except Cancelled:
                        got["stop"] = True
                        assoc.abort()
                        raise
                if got["stop"]:
                    break
        if got["stop"]:
            raise Cancelled()
        return got["n"]

    def send(self, files: Sequence[Path]) -> list[SendResult]:
        from engine.pacs.sending import read_for_send

        loaded = [(Path(p), *read_for_send(p, i, len(files))) for i, p in enumerate(files)]
        results = {p: SendResult(p, False, why) for p, ds, why in loaded if ds is None}
        good = [(p, ds) for p, ds, _ in loaded if ds is not None]
        if good:
            results.update(self._store(good))
        return [results[Path(p)] for p in files]

    def _store(self, good) -> dict:
        pairs = sorted({(text(ds.SOPClassUID), _syntax(ds)) for _, ds in good})
        out = {}
        with self._association(pairs, "sending") as assoc:
            for index, (path, ds) in enumerate(good):
                try:
                    status = assoc.send_c_store(ds)
                except ValueError:  # no accepted presentation context for its class and syntax
                    out[path] = SendResult(path, False, "the server accepts no object of its kind")
                    continue
                code = self._check(status, f"storing file {index + 1} of {len(good)}", assoc)
                ok = code in (0x0000, 0xB000, 0xB006, 0xB007)  # success or warning
                out[path] = SendResult(path, ok, "" if ok else f"the server refused it (status 0x{code:04X})")
        return out


def _syntax(ds) -> str:
    from pydicom.uid import ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    return text(getattr(meta, "TransferSyntaxUID", None) or ImplicitVRLittleEndian)


def _aborted(assoc, settle: float = 1.0) -> bool:
    """Whether the peer aborted: the A-ABORT may still be on its way when the response is found
    empty, so wait up to ``settle`` seconds for the association to leave the established state."""
    deadline = time.monotonic() + settle
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(assoc.is_aborted)


def _image_identifier(study_uid: str, instances):
    """An image-level C-GET identifier asking for the given (SOP Instance UID, class) pairs."""
    from pydicom import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel, ds.StudyInstanceUID = "IMAGE", study_uid
    ds.SOPInstanceUID = [sop for sop, _ in instances]
    return ds


def _storage_contexts(classes: Sequence[str]) -> list:
    """One presentation context per SOP class and transfer syntax, so the server can send each
    instance as it holds it (one context listing every syntax made Orthanc pick Explicit VR
    Little Endian and decompress); the uncompressed syntaxes first, as many as fit."""
    from pydicom.uid import (
        DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
        JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1,
        JPEGLSLossless, JPEGLSNearLossless, RLELossless,
    )

    syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGLSLossless, JPEG2000Lossless,
                JPEGLosslessSV1, RLELossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEG2000,
                JPEGLSNearLossless, DeflatedExplicitVRLittleEndian]
    contexts = [(c, [ImplicitVRLittleEndian, ExplicitVRLittleEndian]) for c in classes]
    for syntax in syntaxes[2:]:
        for c in classes:
            if len(contexts) < MAX_CONTEXTS:
                contexts.append((c, [syntax]))
    return contexts
