"""The DICOMweb transport (``dicomweb-client``): QIDO-RS search, WADO-RS retrieval, STOW-RS send.

Retrieval lists the series' instances (QIDO-RS), then fetches them one by one (WADO-RS, original
transfer syntax), skipping those already in the destination folder: a retrieval cut short (cancel,
network, server gone) is resumed by calling it again. Each instance reports progress and checks
the cancel token. Send stores one file per STOW-RS request, so a refused instance is named and the
others are kept. ``urllib3`` and ``dicomweb_client`` log request URLs, whose query strings may
carry a patient ID or name (and dicomweb-client's debug lines the request headers, a bearer token
among them): their loggers are held at WARNING.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.jobs import CancelToken, ProgressCallback, report
from engine.pacs import cache
from engine.pacs.base import (
    PacsAuthError, PacsError, PacsUnreachable, Query, RetrieveResult, SendResult, SeriesResult,
    StudyResult, as_int, modalities_of, require_instances, text,
)
from engine.pacs.profiles import ServerProfile

log = logging.getLogger(__name__)
STUDY_FIELDS = ("PatientName", "PatientID", "StudyDate", "StudyDescription", "AccessionNumber",
                "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
SERIES_FIELDS = ("Modality", "SeriesNumber", "SeriesDescription", "NumberOfSeriesRelatedInstances")
ANY_TRANSFER_SYNTAX = (("application/dicom", "*"),)


def quiet_url_loggers() -> None:
    for name in ("urllib3", "dicomweb_client"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


class DicomWebClient:
    """A :class:`~engine.pacs.base.PacsClient` over DICOMweb."""

    def __init__(self, profile: ServerProfile, secret: str | None = None) -> None:
        import requests
        from dicomweb_client import DICOMwebClient

        quiet_url_loggers()
        self.profile, self.name = profile, profile.name
        session = requests.Session()
        session.verify = profile.ca_bundle or True
        headers = {}
        if profile.auth == "basic":
            session.auth = (profile.user, secret or "")
        elif profile.auth == "bearer":
            headers["Authorization"] = f"Bearer {secret or ''}"
        self._web = DICOMwebClient(profile.url, session=session, headers=headers,
                                   timeout=profile.timeout)
        # its retry wraps every exception too: 5 attempts with 1+2+4+8+16 s back-off made an
        # unreachable host take 31 s to report; one attempt, and the user decides to retry
        self._web.set_http_retry_params(retry=False)

    # -- errors ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        import requests

        where = self.profile.describe()
        try:
            yield
        except requests.exceptions.SSLError:
            raise PacsUnreachable(f"TLS failure talking to {where}: its certificate was not "
                                  "accepted (check the URL's https and the CA bundle)") from None
        except requests.exceptions.Timeout:
            raise PacsUnreachable(f"{where} did not answer within {self.profile.timeout:g} s while "
                                  f"{doing}; try again or raise the timeout") from None
        except requests.exceptions.ConnectionError:
            raise PacsUnreachable(f"cannot reach {where} while {doing}: check the address and "
                                  "port, and that the server is running") from None
        except requests.exceptions.HTTPError as exc:
            raise http_error(exc, where, doing) from None
        except ValueError as exc:  # an answer dicomweb-client could not parse
            raise PacsError(f"{where} sent an answer that is not valid DICOMweb while {doing} "
                            f"({type(exc).__name__})") from None

    # -- protocol --------------------------------------------------------------------------------
    def echo(self) -> str:
        start = time.perf_counter()
        with self._errors("checking the connection"):
            self._web.search_for_studies(limit=1, fields=["StudyInstanceUID"])
        return f"{self.profile.describe()} answered QIDO-RS in {1000 * (time.perf_counter() - start):.0f} ms"

    def find_studies(self, query: Query) -> list[StudyResult]:
        filters = {key: value for key, value in (
            ("PatientID", query.patient_id), ("PatientName", query.patient_name),
            ("ModalitiesInStudy", query.modality.upper()), ("AccessionNumber", query.accession),
            ("StudyDescription", query.description), ("StudyDate", query.date_range())) if value}
        log.info("QIDO-RS study search on %s (%s)", self.name, query)
        with self._errors("searching for studies"):
            found = self._web.search_for_studies(search_filters=filters, fields=list(STUDY_FIELDS),
                                                 limit=query.limit)
        return [_study(_dataset(item)) for item in found]

    def find_series(self, study_uid: str) -> list[SeriesResult]:
        with self._errors("listing the study's series"):
            found = self._web.search_for_series(study_uid, fields=list(SERIES_FIELDS))
        return [_series(study_uid, _dataset(item)) for item in found]

    def _instances(self, study_uid: str, series_uid: str | None) -> list[tuple[str, str]]:
        with self._errors("listing the instances"):
            found = self._web.search_for_instances(study_uid, series_uid,
                                                   fields=["SeriesInstanceUID", "SOPInstanceUID"])
        out = []
        for item in found:
            ds = _dataset(item)
            out.append((text(ds.get("SeriesInstanceUID", series_uid)), text(ds.get("SOPInstanceUID"))))
        return out

    def retrieve(self, study_uid: str, series_uid: str | None, dest: Path, *,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> RetrieveResult:
        dest = Path(dest)
        listing = self._instances(study_uid, series_uid)
        require_instances(listing, self.profile, series_uid)
        cache.begin(dest)
        received = skipped = 0
        try:
            for i, (series, sop) in enumerate(listing):
                report(progress, cancel, i / len(listing), f"instance {i + 1} of {len(listing)}")
                if cache.has_instance(dest, sop):
                    skipped += 1
                    continue
                with self._errors(f"retrieving instance {i + 1} of {len(listing)}"):
                    ds = self._web.retrieve_instance(study_uid, series, sop,
                                                     media_types=ANY_TRANSFER_SYNTAX)
                cache.write_instance(dest, sop, _file_bytes(ds))
                received += 1
        finally:
            cache.discard_if_empty(dest)
        cache.finish(dest)
        report(progress, None, 1.0, f"{len(listing)} instances")
        return RetrieveResult(dest, received, skipped, len(listing))

    def send(self, files: Sequence[Path]) -> list[SendResult]:
        from engine.pacs.sending import read_for_send

        results = []
        for index, path in enumerate(files):
            ds, problem = read_for_send(path, index, len(files))
            if ds is None:
                results.append(SendResult(Path(path), False, problem))
                continue
            results.append(self._store_one(Path(path), ds, index, len(files)))
        return results

    def _store_one(self, path: Path, ds, index: int, count: int) -> SendResult:
        import requests

        try:
            with self._errors(f"sending file {index + 1} of {count}"):
                try:
                    answer = self._web.store_instances([ds])
                except requests.exceptions.HTTPError as exc:
                    status = getattr(exc.response, "status_code", 0)
                    if status in (401, 403):
                        raise
                    return SendResult(path, False, f"the server refused it (HTTP {status})")
        except PacsAuthError:
            raise
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            reason = as_int(failed[0].get("FailureReason"))
            return SendResult(path, False, f"the server refused it (failure reason {reason})")
        return SendResult(path, True)


def http_error(exc, where: str, doing: str) -> PacsError:
    status = getattr(getattr(exc, "response", None), "status_code", 0)
    if status == 401:
        return PacsAuthError(f"{where} refused the credentials (HTTP 401) while {doing}: check the "
                             "user name and password or token")
    if status == 403:
        return PacsAuthError(f"{where} denied access (HTTP 403) while {doing}: this user may not "
                             "do that")
    if status == 404:
        return PacsError(f"{where} has no such resource (HTTP 404) while {doing}: check the base "
                         "URL (it usually ends in /dicom-web) and the UIDs")
    return PacsError(f"{where} answered HTTP {status} while {doing}")


def _dataset(item: dict):
    from pydicom import Dataset

    return Dataset.from_json(item)


def _file_bytes(ds) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _study(ds) -> StudyResult:
    return StudyResult(
        study_uid=text(ds.get("StudyInstanceUID")), patient_name=text(ds.get("PatientName")),
        patient_id=text(ds.get("PatientID")), study_date=text(ds.get("StudyDate")),
        description=text(ds.get("StudyDescription")), accession=text(ds.get("AccessionNumber")),
        modalities=modalities_of(ds.get("ModalitiesInStudy")),
        series_count=as_int(ds.get("NumberOfStudyRelatedSeries")),
        instance_count=as_int(ds.get("NumberOfStudyRelatedInstances")))


def _series(study_uid: str, ds) -> SeriesResult:
    return SeriesResult(
        study_uid=study_uid, series_uid=text(ds.get("SeriesInstanceUID")),
        modality=text(ds.get("Modality")), series_number=as_int(ds.get("SeriesNumber")),
        description=text(ds.get("SeriesDescription")),
        instance_count=as_int(ds.get("NumberOfSeriesRelatedInstances")))
