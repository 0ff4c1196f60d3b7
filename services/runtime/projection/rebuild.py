"""Rebuild a projection by replaying its topics from the beginning into a new version of its tables.

The old version keeps serving and its workers keep writing to it while the rebuild runs. The rebuild runs the
same consume loop as a worker (`consumer.py`) in a consumer group of its own, `<group>-rebuild-v<N>`, so it commits
only what it wrote and can be interrupted and started again (it resumes). Once that group's committed offsets have
reached the ends the topics had when it last looked, it hands the workers' group over to the new version
(`handover.py`): the workers stop, the rebuild applies what was published meanwhile, the workers' group takes the
rebuild's offsets and the new version serves. The rebuild's group is then deleted: the only group left is the one
whose name never changes.
"""

import asyncio
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection.consumer import consuming_app
from services.runtime.projection.groups import committed_offsets, delete_group
from services.runtime.projection.handover import Positions, hand_over
from services.runtime.projection.records import Projection, closing
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.projection.versions import active_version, ensure_registry, keyspace_of
from services.runtime.resources import SharedResource
from services.runtime.schema import migrate
from services.runtime.topics import partitions_of

# Called with (events applied, events to apply) as the replay goes.
Progress = Callable[[int, int], None]
# How often the replay compares its group's committed offsets with the ends of the topics.
CHECK_SECONDS = 0.5


def rebuild_group(settings: Settings, spec: ProjectionSpec, version: int) -> str:
    return f"{settings.consumer_group(spec.group_name)}-rebuild-v{version}"


async def rebuild(
    settings: Settings, spec: ProjectionSpec, progress: Progress, report: Callable[[str], None] = lambda step: None
) -> int:
    """Replay the spec's topics into the next version of its tables and make it serve. Returns the new version."""
    service = spec.service
    session = await CassandraSession.connect(settings, settings.keyspace(service))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        await ensure_registry(session, settings, service)
        version = await active_version(session, settings, service) + 1
        # keyspace_of(service, N) is settings.keyspace(f"{service}_vN"): the same CQL files, applied there.
        await migrate(settings, f"{service}_v{version}", spec.schema_package)
        repository = spec.repository(session, keyspace_of(settings, service, version), settings.keyspace(service))
        name, group, topics = (
            f"{service}-v{version}",
            rebuild_group(settings, spec, version),
            spec.topic_names(settings),
        )

        async def replay_with(build: Callable[..., Projection]) -> None:
            async with closing(build(repository, session, settings)) as projection:
                await replay(settings, name, group, topics, projection, progress)
                replayed = getattr(projection, "replayed", None)
                if replayed is not None:
                    await replayed()

        await replay_with(spec.replay_projection or spec.projection)

        async def caught_up() -> Positions:
            # What was published since, with the projection the workers run (it leaves nothing to a final pass).
            await replay_with(spec.projection)
            return await committed_offsets(admin, group)

        workers = settings.consumer_group(spec.group_name)
        await hand_over(settings, session, admin, service, workers, version, caught_up, report)
        await delete_group(admin, group)
        return version
    finally:
        await admin.close()
        session.shutdown()


async def replay(
    settings: Settings, name: str, group: str, topics: Sequence[str], projection: Projection, progress: Progress
) -> None:
    """Consume `topics` in `group` from its committed offsets (or the beginning) until everything up to the ends
    they had at the last look is written and committed."""
    applied = 0

    def count(events: int) -> None:
        nonlocal applied
        applied += events

    app = consuming_app(
        settings=settings,
        name=name,
        group=group,
        topics=topics,
        projection=SharedResource(lambda: projection),
        on_applied=count,
    )
    offsets = _GroupOffsets(settings, group)
    await offsets.start(topics)
    try:
        await app.start()
        try:
            while True:
                remaining = await offsets.remaining()
                progress(applied, applied + remaining)
                if remaining == 0:
                    return
                await asyncio.sleep(CHECK_SECONDS)
        finally:
            await app.stop()  # commits what it acknowledged
    finally:
        await offsets.stop()


class _GroupOffsets:
    """How far a consumer group's committed offsets are from the ends of its topics."""

    def __init__(self, settings: Settings, group: str) -> None:
        self._group = group
        self._consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        self._partitions: list[TopicPartition] = []

    async def start(self, topics: Sequence[str]) -> None:
        await self._consumer.start()
        await self._admin.start()
        self._partitions = await partitions_of(self._consumer, list(topics))

    async def remaining(self) -> int:
        """Records not yet committed, up to the ends read first (so a record published meanwhile is not counted)."""
        ends = await self._consumer.end_offsets(self._partitions)
        committed = await committed_offsets(self._admin, self._group, self._partitions)
        return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()
