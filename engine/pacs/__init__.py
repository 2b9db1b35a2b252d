"""Work from the PACS: query, retrieve and send over DICOMweb or DIMSE (Qt-free).

Public API:

* ``PacsClient`` (protocol): ``echo()``, ``find_studies(Query)``, ``find_series(study_uid)``,
  ``retrieve(study_uid, series_uid, dest, *, progress=None, cancel=None) -> RetrieveResult``,
  ``send(files) -> [SendResult]`` (one per file, in order; a refused file never stops the rest).
* ``connect(profile, secret=None) -> PacsClient``: ``DicomWebClient`` (``dicomweb-client``:
  QIDO-RS / WADO-RS / STOW-RS) for a profile with a URL, ``DimseClient`` (``pynetdicom``:
  C-ECHO / C-FIND / C-GET / C-STORE) for one with an AE title, host and port.
* ``ServerProfile`` and ``profiles`` (``load_all``, ``save``, ``remove``, ``resolve``,
  ``secret_for``): saved servers in the user data folder, never holding a secret.
* ``cache``: series folders named by hashed UIDs, a ``.partial`` marker until complete.
* Errors: ``PacsError`` (a ``CandorError``), ``PacsAuthError`` (401/403), ``PacsUnreachable``
  (host, port, TLS, timeout). No message or log line carries a patient name or ID.

A retrieved folder opens with ``engine.io.load(folder)`` like any folder of DICOM files.
"""

from __future__ import annotations

from engine.pacs import cache, profiles
from engine.pacs.base import (
    PacsAuthError, PacsClient, PacsError, PacsUnreachable, Query, RetrieveResult, SendResult,
    SeriesResult, StudyResult,
)
from engine.pacs.profiles import ServerProfile


def connect(profile: ServerProfile, secret: str | None = None) -> PacsClient:
    """A client for ``profile``; ``secret`` is the password or bearer token, if it uses one."""
    if profile.auth != "none" and not secret:
        raise PacsAuthError(f"{profile.describe()} needs a password or token: type it, pipe it "
                            "with --password-stdin or set CANDOR_PACS_PASSWORD")
    if profile.transport == "dicomweb":
        from engine.pacs.dicomweb import DicomWebClient

        return DicomWebClient(profile, secret)
    from engine.pacs.dimse import DimseClient

    return DimseClient(profile, secret)


__all__ = [
    "PacsAuthError", "PacsClient", "PacsError", "PacsUnreachable", "Query", "RetrieveResult",
    "SendResult", "SeriesResult", "ServerProfile", "StudyResult", "cache", "connect", "profiles",
]
