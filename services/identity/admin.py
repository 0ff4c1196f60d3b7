"""Operators' use cases of the identity service, run by `chirp admin setup` and `chirp admin rotate-signing-key`
rather than inside the service process: the signing keys and the operator's credential."""

import os
from pathlib import Path

from services.identity.domain import new_secret, secret_hash
from services.identity.repository import IdentityRepository
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import utc_now
from services.runtime.config import Settings
from services.runtime.credentials import SigningKeys


def ensure_signing_key(settings: Settings) -> str | None:
    """A signing key in CHIRP_SIGNING_KEYS_DIR unless there is one; returns the new key's id, or None."""
    directory = Path(settings.signing_keys_dir)
    if any(directory.glob("*.pem")):
        return None
    return SigningKeys.generate(directory)


def rotate_signing_key(settings: Settings) -> str:
    """A new key, which signs once the identity service reloads its keys; the older ones keep verifying until
    their files are removed (wait at least a credential's lifetime)."""
    return SigningKeys.generate(Path(settings.signing_keys_dir))


async def ensure_operator_credential(settings: Settings) -> bool:
    """The operator's secret, stored as a hash in the identity keyspace when the deployment has none yet. The secret
    is the one in CHIRP_OPERATOR_CREDENTIAL_FILE (a mounted Secret, say), or a new one written there (owner-only).
    True when it was stored now."""
    path = Path(settings.operator_credential_file)
    session = await CassandraSession.connect(settings, settings.keyspace("identity"))
    try:
        repo = IdentityRepository(session, settings.keyspace("identity"))
        if await repo.operator_secret_hash() is not None:
            return False
        secret = path.read_text().strip() if path.exists() else ""
        if not secret:
            secret = new_secret()
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written before the hash is stored: a crash in between leaves a file that a rerun reuses, never a
            # stored hash whose secret is lost.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secret + "\n")
            os.chmod(path, 0o600)
        if not await repo.save_operator_secret_hash(secret_hash(secret), utc_now()):
            raise RuntimeError("another setup stored an operator secret at the same time; run setup again")
        return True
    finally:
        session.shutdown()
