"""Servers that misbehave: one that dies mid-retrieval (a second, private Orthanc, killed and
restarted), peers that accept the connection but never answer (timeouts), an HTTP server that
denies every DICOMweb request (403: Orthanc cannot be made to answer it), and rejections that
must never read as aborts."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from engine.io import load, write_series
from engine.pacs import PacsError, PacsUnreachable, Query, ServerProfile, cache, connect
from engine.volume import Geometry, Volume
from tests.engine.pacs.conftest import CANARY_NAME, CANDOR_AET, PASSWORD, SERVER_AET, USER, launch, stop, upload_series


@pytest.mark.parametrize("transport", ["dicomweb", "dimse"])
def test_server_dying_mid_retrieval_keeps_a_resumable_partial(tmp_path, transport):
    folder = tmp_path / "orthanc"
    folder.mkdir()
    server, proc = launch(folder)
    try:
        uploaded = upload_series(server, tmp_path / "upload")
        if transport == "dicomweb":
            profile = ServerProfile(name="dying", url=server.dicomweb_url, auth="basic", user=USER, timeout=5)
        else:
            profile = ServerProfile(name="dying", ae_title=SERVER_AET, host="127.0.0.1",
                                    port=server.dicom_port, calling_ae=CANDOR_AET, timeout=5)
        client = connect(profile, PASSWORD if transport == "dicomweb" else None)
        dest = cache.series_folder(client.name, uploaded.study_uid, uploaded.series_uid)
        calls = []

        def kill_after_two(fraction, stage):
            calls.append(fraction)
            if len(calls) == 2 and transport == "dicomweb" or len(calls) == 1 and transport == "dimse":
                stop(proc, kill=True)

        with pytest.raises(PacsUnreachable) as err:
            client.retrieve(uploaded.study_uid, uploaded.series_uid, dest, progress=kill_after_two)
        assert CANARY_NAME not in str(err.value) and uploaded.patient_id not in str(err.value)
        kept = len(list(dest.glob("*.dcm")))
        assert cache.is_partial(dest) and kept < len(uploaded.paths)
        server, proc = launch(folder, (int(server.http_url.rsplit(":", 1)[1]), server.dicom_port,
                                       server.candor_port))
        result = client.retrieve(uploaded.study_uid, uploaded.series_uid, dest)
        assert (result.skipped, result.received) == (kept, len(uploaded.paths) - kept)
        assert cache.is_complete(dest)
        np.testing.assert_array_equal(load(dest).array, uploaded.volume.array)
    finally:
        stop(proc, kill=True)


@pytest.fixture
def silent_peer():
    """A TCP listener that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held, done = [], threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_dicomweb_timeout_is_clear(silent_peer):
    profile = ServerProfile(name="silent", url=f"http://127.0.0.1:{silent_peer}/dicom-web", timeout=0.5)
    with pytest.raises(PacsUnreachable, match="did not answer within 0.5 s while searching"):
        connect(profile).find_studies(Query(patient_id="X"))


def test_dimse_timeout_is_clear(silent_peer):
    profile = ServerProfile(name="silent", ae_title="X", host="127.0.0.1", port=silent_peer, timeout=0.5)
    with pytest.raises(PacsUnreachable, match="'silent'.*did not answer within 0.5 s while checking the connection"):
        connect(profile).echo()


class _Forbidding(BaseHTTPRequestHandler):
    """Answers 403 with a body to every request, as a proxy or a PACS denying this user does."""

    def _deny(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path.split("?")[0]))
        body = b'{"message": "Forbidden: this account may not use DICOMweb"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _deny

    def log_message(self, *args) -> None:  # keep the test's stderr to Candor's own lines
        pass


@pytest.fixture
def forbidding_server():
    """A real HTTP server on loopback that denies every QIDO-RS, WADO-RS and STOW-RS path."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forbidding)
    server.daemon_threads = True
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _candor(capsys, monkeypatch, *argv):
    from viewer.cli import main

    monkeypatch.setenv("CANDOR_PACS_USER", USER)
    monkeypatch.setenv("CANDOR_PACS_PASSWORD", PASSWORD)
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


STUDY, SERIES = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"


@pytest.mark.parametrize("action, doing, path", [
    (["find", "--patient-id", "CANARYID403"], "searching for studies", ("GET", "/dicom-web/studies")),
    (["get", STUDY, SERIES], "listing the instances",
     ("GET", f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances")),
    (["send"], "sending file 1 of 1", ("POST", "/dicom-web/studies")),
])
def test_http_403_is_a_plain_refusal(forbidding_server, tmp_path, capsys, monkeypatch, action, doing, path):
    url = f"http://127.0.0.1:{forbidding_server.server_address[1]}/dicom-web"
    argv = ["pacs", action[0], url, *action[1:]]
    if action[0] == "send":
        rng = np.random.default_rng(4)
        geometry = Geometry((4, 4, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
        argv += write_series(Volume(rng.integers(0, 99, geometry.shape).astype(np.int16), geometry, "CT"),
                             tmp_path / "one", patient_name=CANARY_NAME, patient_id="CANARYID403")
    code, out, err = _candor(capsys, monkeypatch, *argv)
    assert code == 2 and out == ""
    assert err == (f"error: {url} denied access (HTTP 403) while {doing}: this user may not do "
                   "that\n")
    assert forbidding_server.seen == [path]  # it was asked once, and the answer was believed
    assert not [p for p in cache.cache_root().rglob("*") if p.is_file()]  # nothing cached
    assert "Traceback" not in err and PASSWORD not in err and "CANARY" not in err


def test_rejection_is_told_as_a_rejection_every_time(orthanc):
    """Orthanc closes the socket right after its A-ASSOCIATE-RJ; pynetdicom's requesting thread
    then sometimes finds the socket closed and aborts without reading the rejection (1 in ~40
    before the fix). 100 rejections in a row must all read as rejections."""
    profile = ServerProfile(name="wrong-ae", ae_title="NOT-ORTHANC", host="127.0.0.1",
                            port=orthanc.dicom_port, calling_ae=CANDOR_AET, timeout=10)
    messages = set()
    for _ in range(100):
        with pytest.raises(PacsError) as err:
            connect(profile).echo()
        messages.add(str(err.value))
    assert messages == {"'wrong-ae' (NOT-ORTHANC@127.0.0.1:%d) refused the association while checking "
                        "the connection: it is not called 'NOT-ORTHANC' (check the server's AE title)"
                        % orthanc.dicom_port}
