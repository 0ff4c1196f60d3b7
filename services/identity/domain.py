"""The identity service's rules, with no I/O: secrets, and how they are compared."""

import hashlib
import hmac
import secrets

# Bytes of randomness in an operator secret, an access token, a session or an authorization code.
SECRET_BYTES = 32


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> bytes:
    """What is stored of a high-entropy secret: it cannot be read back, and a leaked table grants nothing."""
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored_hash: bytes | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(secret_hash(secret), stored_hash)
