"""Password hashes: argon2id with argon2-cffi's default parameters (RFC 9106's second recommendation: 64 MiB, 3
passes, 4 lanes), about 0.1 s of CPU each. Slow on purpose, so callers run these in a worker thread."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Checked when the login is unknown or has no password, so that answer takes as long as a wrong password does
# and the time of a refusal does not tell which logins exist.
_DUMMY_HASH = _hasher.hash("not anyone's password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one `stored_hash` was made from; always spends one hash's time."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (then it is replaced at the next sign-in)."""
    return _hasher.check_needs_rehash(stored_hash)
