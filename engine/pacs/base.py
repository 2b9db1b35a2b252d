"""What every PACS transport shares: the client protocol, the query, the results, the errors.

Results carry what a person needs to pick a study (patient name and ID included: the user sees
them on screen), but their ``repr`` leaves identity out, so a result that reaches a log line or a
traceback carries no patient data. Errors name the server by its profile name or address and the
study by nothing at all.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from engine.errors import CandorError
from engine.jobs import CancelToken, ProgressCallback


class PacsError(CandorError):
    """A PACS could not do what was asked; the message says why and what to check."""


class PacsAuthError(PacsError):
    """The server refused the credentials (HTTP 401/403)."""


class PacsUnreachable(PacsError):
    """No connection to the server (host down, wrong port, TLS failure, timeout)."""


@dataclass(frozen=True)
class Query:
    """A study search. Empty fields do not filter; ``since``/``until`` bound the study date."""

    patient_id: str = ""
    patient_name: str = ""
    modality: str = ""
    accession: str = ""
    description: str = ""
    since: _dt.date | None = None
    until: _dt.date | None = None
    limit: int = 200

    def __repr__(self) -> str:  # the values may identify a patient
        used = [k for k, v in asdict(self).items() if v and k != "limit"]
        return f"Query(filters on {', '.join(used) or 'nothing'})"

    def date_range(self) -> str:
        """The DICOM date range (``YYYYMMDD-YYYYMMDD``, open ends allowed), or ``""``."""
        if self.since is None and self.until is None:
            return ""
        since = self.since.strftime("%Y%m%d") if self.since else ""
        until = self.until.strftime("%Y%m%d") if self.until else ""
        return f"{since}-{until}"


@dataclass(frozen=True)
class StudyResult:
    study_uid: str
    patient_name: str = field(default="", repr=False)
    patient_id: str = field(default="", repr=False)
    study_date: str = ""
    description: str = field(default="", repr=False)
    accession: str = field(default="", repr=False)
    modalities: tuple[str, ...] = ()
    series_count: int | None = None
    instance_count: int | None = None

    def to_dict(self) -> dict:
        return asdict(self) | {"modalities": list(self.modalities)}


@dataclass(frozen=True)
class SeriesResult:
    study_uid: str
    series_uid: str
    modality: str = ""
    series_number: int | None = None
    description: str = field(default="", repr=False)
    instance_count: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SendResult:
    """One file of a send: ``ok``, or why the server (or the file) refused it."""

    path: Path
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class RetrieveResult:
    folder: Path
    received: int  # instances fetched by this call
    skipped: int  # already in the folder from an earlier, interrupted retrieval
    total: int


@runtime_checkable
class PacsClient(Protocol):
    """One server, one transport (DICOMweb or DIMSE); every method may raise :class:`PacsError`."""

    name: str

    def echo(self) -> str: ...

    def find_studies(self, query: Query) -> list[StudyResult]: ...

    def find_series(self, study_uid: str) -> list[SeriesResult]: ...

    def retrieve(self, study_uid: str, series_uid: str | None, dest: Path, *,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> RetrieveResult: ...

    def send(self, files: Sequence[Path]) -> list[SendResult]: ...


def require_instances(listing: list, profile, series_uid: str | None) -> None:
    """Both transports: an empty instance listing is a clear error before anything is cached."""
    if not listing:
        raise PacsError(f"{profile.describe()} holds no instance of that "
                        f"{'series' if series_uid else 'study'}")


def text(value) -> str:
    """A DICOM element value as plain text (PersonName, multi-values, None)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def as_int(value) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def modalities_of(value: Iterable | str | None) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split("\\") if v)
    return tuple(str(v) for v in value)
