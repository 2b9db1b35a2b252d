"""Pseudonyms of study/series UIDs: HMAC-SHA256 with a secret that never leaves this machine.

The same study always maps to the same pseudonym here (so corrections of one study can be grouped
and kept in the same data split), but without the secret nobody can link a pseudonym back to the
UID, nor test a guessed UID against it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from engine.durable import atomic_write_bytes

SECRET_FILE = "pseudonym.key"


def load_or_create_secret(folder: Path) -> bytes:
    """The local 32-byte secret in ``folder`` (created, readable by the owner only, on first use)."""
    path = Path(folder) / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, secrets.token_bytes(32))
    if os.name == "posix":
        os.chmod(path, 0o600)
    return path.read_bytes()


def pseudonym(secret: bytes, uid: str | None, kind: str = "study") -> str | None:
    """``kind`` + 24 hex digits of HMAC-SHA256(secret, uid); ``None`` when there is no UID."""
    if not uid:
        return None
    digest = hmac.new(secret, f"{kind}:{uid}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:24]}"
