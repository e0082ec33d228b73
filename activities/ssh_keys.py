"""SSH key pairs generated on the mcis side: the private key goes only to the encrypted store,
the cloud gets the public key (better than the reference, whose clouds generate and return it)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def generate_private_key() -> str:
    """A new ed25519 private key in OpenSSH PEM form."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()


def public_key_of(private_pem: str) -> str:
    """The `ssh-ed25519 AAAA...` public key of an OpenSSH private key."""
    key = serialization.load_ssh_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
