"""Small tools the integration and end-to-end tests share."""

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.runtime.config import Settings
from services.runtime.projection.versions import serving_version
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.wiring import PROJECTION as TIMELINE
from services.timeline.wiring import reader_state


def unique_handle(stem: str) -> str:
    """A handle no other test uses: stem (at most 7 characters) plus 8 hex digits."""
    return f"{stem[:6]}_{uuid.uuid4().hex[:8]}"


def eventually(check, timeout: float = 5.0, interval: float = 0.1):
    """Call `check` until it returns something truthy; fail with its last result after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"condition not met within {timeout}s (last result: {result!r})"
            return result
        time.sleep(interval)


async def _consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    # Let aiokafka's background task start: stopping a consumer before it ran raises CancelledError from stop().
    await asyncio.sleep(0)
    return consumer


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition of the topic to the consumer (and fail if the topic does not exist)."""
    metadata = await consumer._client.fetch_all_metadata()
    partitions = metadata.partitions_for_topic(topic)
    assert partitions, f"topic {topic} does not exist"
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    return assigned


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> offset of the next record to be written: what the log holds right now."""

    async def run():
        consumer = await _consumer(settings)
        try:
            partitions = await _partitions(consumer, topic)
            return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(run())


def read_topic(settings: Settings, topic: str) -> list:
    """Every record of a topic, from the beginning to its current end (raw aiokafka ConsumerRecords)."""

    async def run():
        consumer = await _consumer(settings)
        try:
            partitions = await _partitions(consumer, topic)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records = []

            async def behind() -> bool:
                return any([await consumer.position(tp) < end for tp, end in ends.items()])

            while await behind():
                batch = await consumer.getmany(timeout_ms=1000)
                for items in batch.values():
                    records.extend(items)
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())


def committed_offsets(settings: Settings, group: str, topic: str) -> dict[int, int]:
    """Partition -> offset a consumer group has committed on a topic (partitions never committed are absent)."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
            return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}
        finally:
            await admin.close()

    return asyncio.run(run())


def consumer_groups(settings: Settings) -> list[str]:
    """Every consumer group the cluster knows, by name."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            return sorted(group for group, _ in await admin.list_consumer_groups())
        finally:
            await admin.close()

    return asyncio.run(run())


def caught_up(settings: Settings, group: str) -> bool:
    """Whether `group` has committed everything published to the post and graph topics."""
    topics = (settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name))
    return all(
        committed_offsets(settings, group, t) == {p: o for p, o in end_offsets(settings, t).items() if o}
        for t in topics
    )


def home_timeline(clients, user_id: int) -> list[int]:
    """Every post id of a home timeline, following page tokens to the end."""
    ids, token = [], ""
    while True:
        page = clients.timeline.GetHomeTimeline(
            timeline.GetHomeTimelineRequest(user_id=user_id, page_size=100, page_token=token), timeout=10
        )
        ids.extend(p.post_id for p in page.posts)
        token = page.next_page_token
        if not token:
            return ids


def on_timeline(settings: Settings, work):
    """Run `work(repository)` on the serving version of this session's timeline tables, straight on Cassandra."""

    async def run():
        async with serving_version(settings, TIMELINE) as (repository, _):
            return await work(repository)

    return asyncio.run(run())


def on_reader_state(settings: Settings, work):
    """Run `work(reader_state)` on the timeline state every version shares, straight on Cassandra."""

    async def run():
        async with serving_version(settings, TIMELINE) as (_, session):
            return await work(reader_state(session, settings))

    return asyncio.run(run())
