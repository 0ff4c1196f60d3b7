"""Rebuild a projection by replaying its topics from the beginning into a new version of its tables.

The old version keeps serving and its workers keep writing to it while the rebuild runs. The rebuild consumes in
the new version's own consumer group and commits after each batch is written, exactly like a worker, so it can be
interrupted and started again (it resumes). Once it has reached the end of every partition, and the end did not
move while it checked, it names the new version in the registry: reads switch within REFRESH_SECONDS, and the
workers restart on the new group, resuming from the offsets the rebuild committed. Nothing published meanwhile is
lost: what the rebuild did not reach, the restarted workers apply.
"""

from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection import BATCH_SIZE, Projection, Record, apply_until_done
from services.runtime.schema import migrate
from services.runtime.versions import activate, active_version, consumer_group_of, ensure_registry, keyspace_of

# Called with (records consumed, records to consume) as the replay goes.
Progress = Callable[[int, int], None]


async def rebuild(
    settings: Settings,
    service: str,
    topics: Sequence[str],
    build_projection: Callable[[CassandraSession, str], Projection],
    progress: Progress,
) -> int:
    """Replay `topics` into the next version of `service`'s tables and make it serve. Returns the new version."""
    session = await CassandraSession.connect(settings, settings.keyspace(service))
    try:
        await ensure_registry(session, settings, service)
        version = await active_version(session, settings, service) + 1
        # keyspace_of(service, N) is settings.keyspace(f"{service}_vN"): the same CQL files, applied there.
        await migrate(settings, f"{service}_v{version}", f"services.{service}.schema")
        projection = build_projection(session, keyspace_of(settings, service, version))
        await replay(settings, consumer_group_of(settings, service, version), topics, projection, service, progress)
        await activate(session, settings, service, version)
        return version
    finally:
        session.shutdown()


async def replay(
    settings: Settings, group: str, topics: Sequence[str], projection: Projection, name: str, progress: Progress
) -> None:
    """Apply every record from the group's committed offsets (or the beginning) to the end, committing as it goes."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in await _partitions_of(consumer, t)]
        consumer.assign(partitions)
        done = 0
        while True:
            ends = await consumer.end_offsets(partitions)
            positions = {tp: await consumer.position(tp) for tp in partitions}
            total = done + sum(ends[tp] - positions[tp] for tp in partitions)
            progress(done, total)
            if all(positions[tp] >= ends[tp] for tp in partitions):
                return
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH_SIZE)
                records = [
                    Record(r.topic, r.partition, r.offset, r.key, r.value or b"")
                    for items in batches.values()
                    for r in items
                ]
                if not records:
                    continue
                await apply_until_done(f"{name}-rebuild", projection, records)
                await consumer.commit({tp: items[-1].offset + 1 for tp, items in batches.items()})
                done += len(records)
                progress(done, total)
    finally:
        await consumer.stop()


async def _partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """A manually assigned consumer has no metadata of its own: fetch it (and fail on a topic that does not exist)."""
    metadata = await consumer._client.fetch_all_metadata()
    partitions = metadata.partitions_for_topic(topic)
    if not partitions:
        raise ValueError(f"topic {topic} does not exist")
    return sorted(partitions)
