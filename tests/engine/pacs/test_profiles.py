"""Saved servers and secrets, without a server: validation, damage, the keyring, the cache command."""

from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.pacs import PacsError, ServerProfile, cache, profiles
from viewer.cli import main


def test_saved_profiles_round_trip_and_hold_no_secret(monkeypatch):
    web = ServerProfile(name="web", url="https://pacs.example/dicom-web", auth="bearer", user="")
    dimse = ServerProfile(name="dimse", ae_title="PACS", host="10.0.0.1", port=104)
    profiles.save(web)
    profiles.save(dimse)
    assert profiles.load_all() == {"web": web, "dimse": dimse}
    assert profiles.resolve("dimse") == dimse and profiles.resolve("dimse").transport == "dimse"
    monkeypatch.setenv("CANDOR_PACS_USER", "alice")
    adhoc = profiles.resolve("http://127.0.0.1:8042/dicom-web/")
    assert (adhoc.url, adhoc.auth, adhoc.user) == ("http://127.0.0.1:8042/dicom-web", "basic", "alice")
    monkeypatch.setenv("CANDOR_PACS_PASSWORD", "from-env")
    assert profiles.secret_for(adhoc) == "from-env" and profiles.secret_for(adhoc, "typed") == "typed"
    assert profiles.secret_for(dimse) is None
    profiles.remove("web")
    assert set(profiles.load_all()) == {"dimse"}


@pytest.mark.parametrize("bad, message", [
    (dict(url="http://alice:pw@pacs/dicom-web"), "no credentials in the URL"),
    (dict(url="ftp://pacs/dicom-web"), "http:// or https://"),
    (dict(ae_title="PACS", host="h", port=0), "AE title, host and port"),
    (dict(url="http://pacs", auth="kerberos"), "auth must be one of"),
    (dict(url="http://pacs", ca_bundle="/no/such.pem"), "CA bundle file does not exist"),
])
def test_bad_profiles_are_refused_clearly(bad, message):
    with pytest.raises(InputError, match=message):
        ServerProfile(name="x", **bad).validate()


def test_damaged_servers_file_and_unknown_name():
    profiles.store_path().write_text("{not json")
    with pytest.raises(InputError, match="servers file is damaged"):
        profiles.load_all()
    profiles.store_path().unlink()
    with pytest.raises(InputError, match="no saved PACS server named 'nope'"):
        profiles.resolve("nope")


@pytest.fixture
def no_keyring_backend():
    """The keyring a headless machine has (keyring's own 'fail' backend), restored afterwards."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_keyring_without_a_backend_says_what_to_do(no_keyring_backend, monkeypatch):
    monkeypatch.delenv("CANDOR_PACS_PASSWORD", raising=False)
    with pytest.raises(PacsError, match="give it at use with --password-stdin"):
        profiles.store_secret("web", "s3cret")
    assert profiles.secret_for(ServerProfile(name="web", url="http://p", auth="basic", user="u")) is None


def test_cli_servers_and_cache(capsys, tmp_path):
    assert main(["pacs", "servers", "add", "p", "--dimse", "PACS@pacs.local:11112"]) == 0
    assert main(["pacs", "servers", "list"]) == 0
    assert "PACS@pacs.local:11112 from CANDOR" in capsys.readouterr().out
    assert main(["pacs", "servers", "add", "q", "--dimse", "not-a-peer"]) == 2
    assert "AET@HOST:PORT" in capsys.readouterr().err
    folder = cache.series_folder("p", "1.2.3", "1.2.3.4")
    cache.begin(folder)
    cache.write_instance(folder, "1.2.3.4.5", b"x" * 1000)
    assert main(["pacs", "cache", "info"]) == 0
    assert "1 retrieved series (1 partial)" in capsys.readouterr().out
    assert main(["pacs", "cache", "clear"]) == 0 and not folder.exists()


def test_cache_prune_drops_least_recently_used_complete_series(monkeypatch):
    import os

    folders = []
    for n in range(4):
        folder = cache.series_folder("p", f"1.2.{n}", f"1.2.{n}.1")
        cache.begin(folder)
        cache.write_instance(folder, f"1.2.{n}.1.1", b"x" * 1000)
        if n != 1:  # series 1 stays partial: resumable work is never pruned
            cache.finish(folder)
        os.utime(folder, (1000 + n, 1000 + n))
        folders.append(folder)
    removed = cache.prune(3000, keep=folders[0])  # 4000 bytes in four series
    assert removed == [folders[2]]  # 0 is kept, 1 is partial, 2 is the oldest of the rest
    assert [f.exists() for f in folders] == [True, True, False, True]
    monkeypatch.setenv("CANDOR_PACS_CACHE_GB", "0.5")
    assert cache.limit_bytes() == 500_000_000
