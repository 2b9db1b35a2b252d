"""Saved PACS servers: ``servers.json`` under the Candor user data folder, never a secret in it.

A profile is a DICOMweb base URL or a DIMSE peer (called AE title, host, port, and the AE title
Candor calls from), with an auth kind (``none``, ``basic``, ``bearer``), a user name, an optional CA
bundle for TLS and a timeout. The password or token is asked for at use: given by the caller
(typed, ``--password-stdin``), from ``CANDOR_PACS_PASSWORD``, or from the OS keyring (``keyring``)
where the user stored it with ``candor pacs servers add --keyring``. :func:`save` refuses a profile
dictionary with a secret in it, so none can reach the file by accident.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlparse

from engine.durable import atomic_write_json
from engine.errors import InputError
from engine.pacs.base import PacsError
from engine.resources import user_subdir

log = logging.getLogger(__name__)

AUTH_KINDS = ("none", "basic", "bearer")
KEYRING_SERVICE = "candor-pacs"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SECRET_KEYS = {"password", "token", "secret"}


@dataclass(frozen=True)
class ServerProfile:
    name: str
    url: str = ""  # DICOMweb base URL (…/dicom-web)
    ae_title: str = ""  # DIMSE: the server's (called) AE title
    host: str = ""
    port: int = 0
    calling_ae: str = "CANDOR"  # DIMSE: Candor's own AE title, known to the server
    auth: str = "none"
    user: str = ""
    ca_bundle: str = ""
    timeout: float = 30.0

    @property
    def transport(self) -> str:
        return "dicomweb" if self.url else "dimse"

    def describe(self) -> str:
        """The server for messages: its name and address (no credentials)."""
        where = self.url if self.url else f"{self.ae_title}@{self.host}:{self.port}"
        return where if self.name == where else f"'{self.name}' ({where})"

    def validate(self) -> ServerProfile:
        if not _NAME.match(self.name) and not self.name.startswith(("http://", "https://")):
            raise InputError("a server name is 1-64 letters, digits, '.', '_' or '-'")
        if self.auth not in AUTH_KINDS:
            raise InputError(f"auth must be one of {', '.join(AUTH_KINDS)}")
        if self.url:
            parsed = urlparse(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise InputError("a DICOMweb server is an http:// or https:// base URL")
            if parsed.username or parsed.password:
                raise InputError("put no credentials in the URL; use --user and a password prompt")
        elif not (self.ae_title and self.host and 0 < self.port < 65536):
            raise InputError("a DIMSE server needs its AE title, host and port (AET@HOST:PORT)")
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise InputError("the CA bundle file does not exist")
        if not self.timeout > 0:
            raise InputError("the timeout must be a positive number of seconds")
        return self


def parse_dimse(spec: str) -> tuple[str, str, int]:
    """``AET@HOST:PORT`` → (AE title, host, port)."""
    m = re.match(r"^([^@]{1,16})@([^:]+):(\d{1,5})$", spec.strip())
    if not m:
        raise InputError("give a DIMSE server as AET@HOST:PORT, e.g. ORTHANC@127.0.0.1:4242")
    return m.group(1), m.group(2), int(m.group(3))


def store_path() -> Path:
    return user_subdir("pacs") / "servers.json"


def load_all() -> dict[str, ServerProfile]:
    path = store_path()
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(ServerProfile)}
        return {d["name"]: ServerProfile(**{k: v for k, v in d.items() if k in known})
                for d in doc.get("servers", [])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"the saved PACS servers file is damaged ({type(exc).__name__}); "
                         "remove it and add the servers again") from None


def save(profile: ServerProfile) -> Path:
    profile.validate()
    entry = asdict(profile)
    if _SECRET_KEYS & set(entry):
        raise PacsError("refusing to write a secret into the servers file")
    profiles = load_all()
    profiles[profile.name] = profile
    path = store_path()
    atomic_write_json(path, {"servers": [asdict(p) for p in profiles.values()]})
    return path


def remove(name: str) -> None:
    profiles = load_all()
    if name not in profiles:
        raise InputError(f"no saved PACS server named '{name}' (candor pacs servers list)")
    del profiles[name]
    atomic_write_json(store_path(), {"servers": [asdict(p) for p in profiles.values()]})
    delete_secret(name)


def resolve(server: str) -> ServerProfile:
    """A saved profile by name, or an ad-hoc DICOMweb profile for a base URL."""
    if server.startswith(("http://", "https://")):
        user = os.environ.get("CANDOR_PACS_USER", "")
        return ServerProfile(name=server, url=server.rstrip("/"), auth="basic" if user else "none",
                             user=user).validate()
    profiles = load_all()
    if server not in profiles:
        names = ", ".join(sorted(profiles)) or "none saved"
        raise InputError(f"no saved PACS server named '{server}' (saved: {names}); "
                         "add one with `candor pacs servers add` or give a DICOMweb URL")
    return profiles[server]


def with_user(profile: ServerProfile, user: str | None) -> ServerProfile:
    """``--user`` given at use: basic auth as that user."""
    if not user:
        return profile
    return replace(profile, user=user, auth="basic" if profile.auth == "none" else profile.auth)


def secret_for(profile: ServerProfile, given: str | None = None) -> str | None:
    """The password/token for ``profile``: given > ``CANDOR_PACS_PASSWORD`` > OS keyring."""
    if profile.auth == "none":
        return None
    if given:
        return given
    if os.environ.get("CANDOR_PACS_PASSWORD"):
        return os.environ["CANDOR_PACS_PASSWORD"]
    return _keyring_get(profile.name)


def _keyring():
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None, Exception
    return keyring, KeyringError


def _keyring_get(name: str) -> str | None:
    keyring, error = _keyring()
    if keyring is None:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except error:
        log.info("no usable OS keyring; the password must be given at use")
        return None


def store_secret(name: str, secret: str) -> None:
    """Keep ``secret`` in the OS keyring (never in a file Candor writes)."""
    keyring, error = _keyring()
    if keyring is None:
        raise PacsError("the keyring package is not installed; give the password at use instead")
    try:
        keyring.set_password(KEYRING_SERVICE, name, secret)
    except error as exc:
        raise PacsError(f"the OS keyring refused the password ({type(exc).__name__}); give it at "
                        "use with --password-stdin or CANDOR_PACS_PASSWORD instead") from None


def delete_secret(name: str) -> None:
    keyring, error = _keyring()
    if keyring is None:
        return
    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except error:
        pass
