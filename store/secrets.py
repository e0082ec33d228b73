"""Encryption at rest of secrets (SSH private keys, credentials) with Fernet.

The key comes from env `MCIS_SECRET_KEY` (a Fernet key), or else from the file
`MCIS_HOME/secret.key`, created with mode 0600 on first use. Neither the key nor any plaintext
ever appears in a message, a log line or a repr.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from store.errors import StoreError

KEY_ENV = "MCIS_SECRET_KEY"
KEY_FILE = "secret.key"


class SecretBox:
    """Encrypts and decrypts secrets with one Fernet key; `source` says where the key is from."""

    def __init__(self, key: bytes, source: str) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise StoreError(
                f"{source} does not hold a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
        self.source = source

    def __repr__(self) -> str:
        return f"SecretBox(source={self.source!r})"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str, *, ref: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise StoreError(
                f"secret {ref!r} cannot be decrypted with the key from {self.source}: "
                "it was encrypted with another key"
            ) from None


def load_secret_box(home: Path, env: Mapping[str, str] = os.environ) -> SecretBox:
    """The box keyed by `MCIS_SECRET_KEY` if set, else by `home/secret.key` (made if missing)."""
    if env.get(KEY_ENV):
        return SecretBox(env[KEY_ENV].encode(), KEY_ENV)
    path = home / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return SecretBox(path.read_bytes().strip(), str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` with mode 0600, atomically: of processes racing to create it,
    one wins and all the others then read its key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:  # mkstemp makes it 0600
            file.write(Fernet.generate_key())
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
