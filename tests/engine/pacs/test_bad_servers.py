"""Servers that misbehave: one that dies mid-retrieval (a second, private Orthanc, killed and
restarted), and peers that accept the connection but never answer (timeouts)."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from engine.io import load
from engine.pacs import PacsUnreachable, Query, ServerProfile, cache, connect
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
