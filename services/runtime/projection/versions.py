"""Versions of a projection's tables, so that one can be rebuilt from the log while another serves.

Version 1 is the service's base keyspace (`chirp_timeline`) and consumer group (`chirp-timeline`); version N > 1
is keyspace `chirp_timeline_vN` and group `chirp-timeline-vN`, with the same tables. A one-row-per-service registry
in the base keyspace names the version that serves; without a row it is version 1. Reads follow the
registry within REFRESH_SECONDS; a worker that sees it change restarts itself on the new version's consumer group.
"""

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.resources import SharedResource

if TYPE_CHECKING:
    from services.runtime.projection.spec import ProjectionSpec

R = TypeVar("R")

# How stale a process's idea of the serving version may be.
REFRESH_SECONDS = 2.0

REGISTRY_TABLE = "projection_versions"


def keyspace_of(settings: Settings, service: str, version: int) -> str:
    base = settings.keyspace(service)
    return base if version == 1 else f"{base}_v{version}"


def consumer_group_of(settings: Settings, service: str, version: int) -> str:
    base = settings.consumer_group(service)
    return base if version == 1 else f"{base}-v{version}"


async def active_version(session: CassandraSession, settings: Settings, service: str) -> int:
    rows = await session.execute(
        f"SELECT version FROM {settings.keyspace(service)}.{REGISTRY_TABLE} WHERE service = ?", (service,)
    )
    return rows[0].version if rows else 1


async def activate(session: CassandraSession, settings: Settings, service: str, version: int) -> None:
    """Make `version` the one that serves reads and that the workers write to."""
    await ensure_registry(session, settings, service)
    await session.execute(
        f"INSERT INTO {settings.keyspace(service)}.{REGISTRY_TABLE} (service, version, activated_at) "
        "VALUES (?, ?, toTimestamp(now()))",
        (service, version),
    )


async def ensure_registry(session: CassandraSession, settings: Settings, service: str) -> None:
    await session.execute_raw(
        f"CREATE TABLE IF NOT EXISTS {settings.keyspace(service)}.{REGISTRY_TABLE} "
        "(service text PRIMARY KEY, version int, activated_at timestamp)"
    )


class ServingRepository(Generic[R]):
    """The repository of the version that serves, for a read API: `get()` like a SharedResource, but it re-reads
    the registry at most every REFRESH_SECONDS and switches to the new version's tables when it changed."""

    def __init__(
        self,
        settings: Settings,
        service: str,
        session: SharedResource[CassandraSession],
        build_repository: Callable[[CassandraSession, str, str], R],
    ) -> None:
        self._settings = settings
        self._service = service
        self._session = session
        self._build = build_repository
        self._by_version: dict[int, R] = {}
        self._version = 1
        self._checked = float("-inf")

    async def get(self) -> R:
        session = await self._session.get()
        if time.monotonic() - self._checked > REFRESH_SECONDS:
            self._version = await active_version(session, self._settings, self._service)
            self._checked = time.monotonic()
        if self._version not in self._by_version:
            versioned = keyspace_of(self._settings, self._service, self._version)
            self._by_version[self._version] = self._build(session, versioned, self._settings.keyspace(self._service))
        return self._by_version[self._version]


@contextlib.asynccontextmanager
async def serving_version(settings: Settings, spec: "ProjectionSpec[R]") -> AsyncIterator[tuple[R, CassandraSession]]:
    """For operators' commands run outside the service: the repository of the version that serves reads, and the
    session of the service's keyspace (for what every version shares); closed on exit."""
    session = await CassandraSession.connect(settings, settings.keyspace(spec.service))
    try:
        await ensure_registry(session, settings, spec.service)
        version = await active_version(session, settings, spec.service)
        yield (
            spec.repository(session, keyspace_of(settings, spec.service, version), settings.keyspace(spec.service)),
            session,
        )
    finally:
        session.shutdown()
