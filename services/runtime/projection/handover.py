"""Handing a projection's consumer group from one version of its tables to another.

The group's name never changes (`chirp-timeline`); its committed offsets say how far the serving version got. To
make another version serve, the handover:
1. records in the registry that it runs: each worker stops within REFRESH_SECONDS (committing what it wrote and
   leaving the group) and waits, so the outgoing version is no longer written;
2. waits until the group has no member;
3. keeps the group's offsets as the outgoing version's positions, so that going back resumes it where it stopped;
4. has the caller bring the incoming version up to date and say where it stands (a rebuild replays to the end of
   the log; going back reads the positions kept for it);
5. commits those positions for the group (Kafka refuses while a worker is a member, so a worker that joined
   meanwhile is never overridden) and names the incoming version in the registry. The workers start again, in
   the same group, from exactly where the incoming version stands: nothing is skipped and nothing is lost.
Interrupted before the commit, it leaves the outgoing version serving as before; after it, the incoming one.
"""

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection.groups import commit_offsets, committed_offsets, wait_until_empty
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.projection.versions import (
    activate,
    active_version,
    begin_handover,
    ensure_registry,
    save_positions,
    saved_positions,
)

# Workers stop within REFRESH_SECONDS plus a graceful stop; a worker that died without leaving the group is
# dropped from it by Kafka after its session timeout (10 s).
HANDOVER_TIMEOUT_SECONDS = 120.0

Positions = dict[TopicPartition, int]


async def hand_over(
    settings: Settings,
    session: CassandraSession,
    admin: AIOKafkaAdminClient,
    service: str,
    group: str,
    to: int,
    positions_of_incoming: Callable[[], Awaitable[Positions]],
    report: Callable[[str], None] = lambda step: None,
) -> None:
    """Make version `to` of `service`'s tables serve, moving the workers' `group` to its positions (see the
    module's steps); `admin` is started and stays open."""
    outgoing = await active_version(session, settings, service)
    moved = False
    try:
        await begin_handover(session, settings, service, outgoing, to)
        report(f"waiting for the workers of consumer group {group} to stop")
        await wait_until_empty(admin, group, HANDOVER_TIMEOUT_SECONDS)
        reached = await committed_offsets(admin, group)
        await save_positions(session, settings, service, outgoing, reached)
        report(f"bringing version {to} up to date")
        incoming = await positions_of_incoming()
        # A partition the incoming version never read from starts from the beginning, not where the outgoing one was.
        await commit_offsets(settings, group, {tp: incoming.get(tp, 0) for tp in reached.keys() | incoming.keys()})
        moved = True
    finally:
        await asyncio.shield(activate(session, settings, service, to if moved else outgoing))


async def go_back(
    settings: Settings, spec: ProjectionSpec, version: int, report: Callable[[str], None] = lambda step: None
) -> None:
    """Make an earlier `version` serve again, resuming its workers where it stopped serving; LookupError if it
    serves already or never served (nothing says where it stopped)."""
    session = await CassandraSession.connect(settings, settings.keyspace(spec.service))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        await ensure_registry(session, settings, spec.service)
        if version == await active_version(session, settings, spec.service):
            raise LookupError(f"version {version} already serves")
        positions = await saved_positions(session, settings, spec.service, version)
        if not positions:
            raise LookupError(f"version {version} never served, so nothing says where it stopped; rebuild instead")

        async def where_it_stopped() -> Positions:
            return positions

        group = settings.consumer_group(spec.group_name)
        await hand_over(settings, session, admin, spec.service, group, version, where_it_stopped, report)
    finally:
        await admin.close()
        session.shutdown()
