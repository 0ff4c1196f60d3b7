"""The signing keys as the running service holds them: loaded from CHIRP_SIGNING_KEYS_DIR at start and read again
every RELOAD_SECONDS, so a key `chirp admin rotate-signing-key` adds starts signing without a restart, and one whose
file is removed stops verifying."""

import asyncio
from pathlib import Path

import structlog

from services.runtime.credentials import SigningKeys

log = structlog.get_logger(__name__)

RELOAD_SECONDS = 30.0


class KeyDirectory:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        # At start a missing or broken key is fatal: a service that cannot sign is no identity service.
        self._keys = SigningKeys.load(directory)
        self._reloading: asyncio.Task | None = None

    @property
    def current(self) -> SigningKeys:
        return self._keys

    def reload(self) -> None:
        """Read the directory again; a failure (no key left, an unreadable file) keeps the keys already held."""
        try:
            self._keys = SigningKeys.load(self._directory)
        except Exception as error:  # whatever is wrong with the files, the keys held still sign
            log.warning("identity.signing_keys_reload_failed", directory=str(self._directory), error=repr(error))

    async def public_jwks(self) -> str:
        return self._keys.public_jwks()

    def start_reloading(self) -> None:
        self._reloading = asyncio.get_running_loop().create_task(self._reload_forever())

    async def stop_reloading(self) -> None:
        if self._reloading is not None:
            self._reloading.cancel()

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            await asyncio.to_thread(self.reload)
