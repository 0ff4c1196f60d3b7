"""Versions of a projection's tables, so that one can be rebuilt from the log while another serves.

Version 1 is the service's base keyspace (`chirp_timeline`); version N > 1 is keyspace `chirp_timeline_vN`, with
the same tables. Every version is written by the same consumer group (`chirp-timeline`), whose name never changes:
alerts, dashboards and autoscalers that watch its lag keep working across rebuilds. Two tables in the base keyspace
keep the versions instead:
- the registry, one row per service: the version that serves (none: version 1) and, while a handover between two
  versions runs (`handover.py`), the version it hands over to. Reads follow it within REFRESH_SECONDS; a worker
  that sees it change restarts itself, and waits while a handover runs.
- the positions each version's workers had reached when another version took over the group, so that going back
  to a version resumes it where it stopped.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from aiokafka import TopicPartition

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.resources import SharedResource

if TYPE_CHECKING:
    from services.runtime.projection.spec import ProjectionSpec

R = TypeVar("R")

# How stale a process's idea of the serving version may be.
REFRESH_SECONDS = 2.0

REGISTRY_TABLE = "projection_versions"
POSITIONS_TABLE = "projection_positions"


@dataclass(frozen=True)
class Registry:
    """What the registry says of a service: the version that serves, and the one a running handover moves to."""

    version: int
    handover_to: int | None = None


def keyspace_of(settings: Settings, service: str, version: int) -> str:
    base = settings.keyspace(service)
    return base if version == 1 else f"{base}_v{version}"


async def registry_of(session: CassandraSession, settings: Settings, service: str) -> Registry:
    rows = await session.execute(
        f"SELECT version, handover_to FROM {settings.keyspace(service)}.{REGISTRY_TABLE} WHERE service = ?",
        (service,),
    )
    return Registry(rows[0].version, rows[0].handover_to) if rows else Registry(1)


async def active_version(session: CassandraSession, settings: Settings, service: str) -> int:
    return (await registry_of(session, settings, service)).version


async def activate(session: CassandraSession, settings: Settings, service: str, version: int) -> None:
    """Make `version` the one that serves reads and that the workers write to, and end any handover."""
    await ensure_registry(session, settings, service)
    await session.execute(
        f"INSERT INTO {settings.keyspace(service)}.{REGISTRY_TABLE} (service, version, handover_to, activated_at) "
        "VALUES (?, ?, null, toTimestamp(now()))",
        (service, version),
    )


async def begin_handover(session: CassandraSession, settings: Settings, service: str, version: int, to: int) -> None:
    """Record that the group passes from `version` to `to`: workers stop and wait until `activate`."""
    await session.execute(
        f"UPDATE {settings.keyspace(service)}.{REGISTRY_TABLE} SET version = ?, handover_to = ? WHERE service = ?",
        (version, to, service),
    )


async def wait_for_version(
    session: CassandraSession, settings: Settings, service: str, waiting: Callable[[int], None]
) -> int:
    """The serving version once no handover runs; `waiting` hears the target of each handover seen meanwhile."""
    while (registry := await registry_of(session, settings, service)).handover_to is not None:
        waiting(registry.handover_to)
        await asyncio.sleep(REFRESH_SECONDS)
    return registry.version


async def save_positions(
    session: CassandraSession, settings: Settings, service: str, version: int, offsets: dict[TopicPartition, int]
) -> None:
    """Keep where `version`'s workers stopped: one partition, written in one batch."""
    cql = (
        f"INSERT INTO {settings.keyspace(service)}.{POSITIONS_TABLE} (service, version, topic, partition, next_offset) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    await session.execute_batch([(cql, (service, version, tp.topic, tp.partition, o)) for tp, o in offsets.items()])


async def saved_positions(
    session: CassandraSession, settings: Settings, service: str, version: int
) -> dict[TopicPartition, int]:
    rows = await session.execute(
        f"SELECT topic, partition, next_offset FROM {settings.keyspace(service)}.{POSITIONS_TABLE} "
        "WHERE service = ? AND version = ?",
        (service, version),
    )
    return {TopicPartition(row.topic, row.partition): row.next_offset for row in rows}


async def ensure_registry(session: CassandraSession, settings: Settings, service: str) -> None:
    keyspace = settings.keyspace(service)
    await session.execute_raw(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{REGISTRY_TABLE} "
        "(service text PRIMARY KEY, version int, handover_to int, activated_at timestamp)"
    )
    # A registry made before handovers existed.
    await session.execute_raw(f"ALTER TABLE {keyspace}.{REGISTRY_TABLE} ADD IF NOT EXISTS handover_to int")
    await session.execute_raw(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{POSITIONS_TABLE} (service text, version int, topic text, "
        "partition int, next_offset bigint, PRIMARY KEY ((service, version), topic, partition))"
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
