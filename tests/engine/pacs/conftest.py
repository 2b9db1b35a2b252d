"""A real Orthanc for the PACS tests: Debian's ``orthanc`` with the ``orthanc-dicomweb`` plugin.

One server per test session, on free loopback ports, with a temporary configuration: storage in a
tmp folder, DICOMweb at ``/dicom-web``, HTTP basic auth on (user ``candor-test``), a DICOM port
with AE title ``ORTHANC`` that checks the called AE title, and a modality entry for Candor's AE
title ``CANDOR`` (C-FIND, C-GET, C-STORE allowed). Without Orthanc the tests skip, unless
``CANDOR_REQUIRE_PEERS=1`` (set by ``.ci/run``): then a missing Orthanc fails them.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests

from engine.io import write_series
from engine.volume import Geometry, Volume

CANARY_NAME = "CANARY^PHI"
USER, PASSWORD = "candor-test", "orthanc-test-password"
SERVER_AET, CANDOR_AET = "ORTHANC", "CANDOR"
PLUGIN_GLOBS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so*",
                "/usr/lib/*/orthanc/plugins/libOrthancDicomWeb.so")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(what: str):
    if os.environ.get("CANDOR_REQUIRE_PEERS") == "1":
        pytest.fail(f"{what} is required (CANDOR_REQUIRE_PEERS=1) but not installed "
                    "(Debian/Ubuntu: apt-get install orthanc orthanc-dicomweb)")
    pytest.skip(f"{what} is not installed (apt-get install orthanc orthanc-dicomweb)")


def _plugin() -> str | None:
    for pattern in PLUGIN_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


@dataclass
class Orthanc:
    http_url: str
    dicom_port: int
    candor_port: int
    folder: Path

    @property
    def dicomweb_url(self) -> str:
        return self.http_url + "/dicom-web"

    def rest(self, method: str, path: str, **kw) -> requests.Response:
        answer = requests.request(method, self.http_url + path, auth=(USER, PASSWORD), timeout=30, **kw)
        answer.raise_for_status()
        return answer

    def upload(self, paths) -> list[str]:
        """POST each file to ``/instances``; the Orthanc ids."""
        return [self.rest("POST", "/instances", data=Path(p).read_bytes()).json()["ID"] for p in paths]

    def series_of_study(self, study_uid: str) -> list[dict]:
        found = self.rest("POST", "/tools/find", json={"Level": "Series", "Expand": True,
                                                        "Query": {"StudyInstanceUID": study_uid}})
        return found.json()


def launch(folder: Path, ports: tuple[int, int, int] | None = None) -> tuple[Orthanc, subprocess.Popen]:
    """Start an Orthanc storing in ``folder`` (again on the same ``ports`` after a restart)."""
    binary, plugin = shutil.which("Orthanc"), _plugin()
    if binary is None:
        _missing("Orthanc")
    if plugin is None:
        _missing("Orthanc's DICOMweb plugin")
    http, dicom, candor = ports or (free_port(), free_port(), free_port())
    config = {
        "Name": "CandorTest", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "HttpPort": http, "DicomPort": dicom, "DicomAet": SERVER_AET, "DicomCheckCalledAet": True,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [plugin], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "DicomModalities": {"candor": {"AET": CANDOR_AET, "Host": "127.0.0.1", "Port": candor,
                                       "AllowGet": True, "AllowStore": True, "AllowFind": True}},
        "StorageCompression": False, "HttpThreadsCount": 8, "ConcurrentJobs": 2,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "ab") as log:
        proc = subprocess.Popen([binary, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(f"http://127.0.0.1:{http}", dicom, candor, folder)
    try:
        _wait_until_up(server, proc)
    except BaseException:
        stop(proc)
        raise
    return server, proc


def stop(proc: subprocess.Popen, kill: bool = False) -> None:
    proc.kill() if kill else proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory) -> Orthanc:
    server, proc = launch(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        stop(proc)


def _wait_until_up(server: Orthanc, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("Orthanc exited at start:\n" + (server.folder / "orthanc.log").read_text()[-2000:])
        try:
            server.rest("GET", "/system")
            return
        except requests.RequestException:
            time.sleep(0.05)
    pytest.fail("Orthanc did not answer /system within 60 s")


@dataclass
class Uploaded:
    study_uid: str
    series_uid: str
    patient_id: str
    paths: list[Path]
    volume: Volume


def upload_series(server: Orthanc, folder: Path, slices: int = 6) -> Uploaded:
    """A small CT series (canary patient name, unique patient ID) uploaded through the REST API."""
    from pydicom import dcmread

    rng = np.random.default_rng(17)
    geometry = Geometry((12, 10, slices), (0.8, 0.9, 2.5), (-5.0, 3.0, 40.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    volume = Volume(rng.integers(-1000, 2000, geometry.shape).astype(np.int16), geometry, "CT")
    patient_id = "CANARYID" + uuid.uuid4().hex[:10].upper()
    paths = write_series(volume, folder, modality="CT", patient_name=CANARY_NAME,
                         patient_id=patient_id, series_description="Candor PACS test")
    first = dcmread(paths[0], stop_before_pixels=True)
    server.upload(paths)
    return Uploaded(str(first.StudyInstanceUID), str(first.SeriesInstanceUID), patient_id, paths, volume)


@pytest.fixture
def uploaded(orthanc, tmp_path) -> Uploaded:
    return upload_series(orthanc, tmp_path / "upload")
