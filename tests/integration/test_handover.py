"""The handover of a projection's consumer group between versions, on the real Kafka and Cassandra: the group keeps
its name and takes the incoming version's positions, the outgoing version's are kept, and while a worker is still
a member nothing moves and the outgoing version serves on."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection import handover
from services.runtime.projection.groups import GroupNotEmpty, commit_offsets, committed_offsets, delete_group
from services.runtime.projection.versions import Registry, ensure_registry, registry_of, saved_positions

SERVICE = "demo"


@pytest.fixture
def world(infrastructure):
    """A keyspace with the registry, a two-partition topic, and a group that committed offsets 3 and 2 on it."""
    tag = uuid.uuid4().hex[:8]
    settings = Settings(keyspace_prefix=f"chirp_h{tag}", topic_prefix=f"h{tag}.")
    topic = settings.topic("events")
    group = settings.consumer_group(SERVICE)

    async def setup():
        session = await CassandraSession.connect(settings)
        await session.execute_raw(
            f"CREATE KEYSPACE {settings.keyspace(SERVICE)} "
            "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        await ensure_registry(session, settings, SERVICE)
        session.shutdown()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        await admin.close()
        await commit_offsets(settings, group, {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 2})

    asyncio.run(setup())
    yield settings, topic, group

    async def teardown():
        session = await CassandraSession.connect(settings)
        await session.execute_raw(f"DROP KEYSPACE IF EXISTS {settings.keyspace(SERVICE)}")
        session.shutdown()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        await delete_group(admin, group)
        await admin.delete_topics([topic])
        await admin.close()

    asyncio.run(teardown())


async def run_handover(settings: Settings, group: str, to: int, incoming) -> None:
    session = await CassandraSession.connect(settings, settings.keyspace(SERVICE))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await handover.hand_over(settings, session, admin, SERVICE, group, to, incoming)
    finally:
        await admin.close()
        session.shutdown()


async def state(settings: Settings, group: str):
    """The registry, the group's committed offsets by partition, and version 1's kept positions by partition."""
    session = await CassandraSession.connect(settings, settings.keyspace(SERVICE))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await committed_offsets(admin, group)
        kept = await saved_positions(session, settings, SERVICE, 1)
        return (
            await registry_of(session, settings, SERVICE),
            {tp.partition: o for tp, o in offsets.items()},
            {tp.partition: o for tp, o in kept.items()},
        )
    finally:
        await admin.close()
        session.shutdown()


def test_the_group_keeps_its_name_and_takes_the_incoming_positions_and_the_outgoing_ones_are_kept(world):
    settings, topic, group = world
    seen = []

    async def incoming():
        seen.append((await state(settings, group))[0])  # what a worker sees meanwhile
        return {TopicPartition(topic, 0): 5}

    asyncio.run(run_handover(settings, group, 2, incoming))
    assert seen == [Registry(1, handover_to=2)]
    # Partition 1, which the incoming version never read, starts from the beginning.
    assert asyncio.run(state(settings, group)) == (Registry(2), {0: 5, 1: 0}, {0: 3, 1: 2})

    async def back():
        session = await CassandraSession.connect(settings, settings.keyspace(SERVICE))
        try:
            return await saved_positions(session, settings, SERVICE, 1)
        finally:
            session.shutdown()

    kept = asyncio.run(back())
    asyncio.run(run_handover(settings, group, 1, lambda: asyncio.sleep(0, kept)))
    assert asyncio.run(state(settings, group))[:2] == (Registry(1), {0: 3, 1: 2})


async def member_of(settings: Settings, group: str, topic: str) -> AIOKafkaConsumer:
    """A consumer that has joined `group` (as a worker that never stops would have)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=200)
    return consumer


def test_a_member_that_stays_stops_the_handover_and_the_outgoing_version_serves_on(world, monkeypatch):
    settings, topic, group = world
    monkeypatch.setattr(handover, "HANDOVER_TIMEOUT_SECONDS", 1.0)
    asked = []

    async def attempt():
        member = await member_of(settings, group, topic)
        try:
            await run_handover(settings, group, 2, lambda: asked.append(1))
        finally:
            await member.stop()

    with pytest.raises(GroupNotEmpty, match=f"consumer group {group} still has 1 member"):
        asyncio.run(attempt())
    assert asked == []
    assert asyncio.run(state(settings, group))[:2] == (Registry(1), {0: 3, 1: 2})


def test_a_worker_that_joins_during_the_handover_keeps_the_group_and_the_outgoing_version_serves_on(world):
    settings, topic, group = world
    joined: list[AIOKafkaConsumer] = []

    async def incoming():
        joined.append(await member_of(settings, group, topic))
        return {TopicPartition(topic, 0): 5, TopicPartition(topic, 1): 5}

    async def attempt():
        try:
            await run_handover(settings, group, 2, incoming)
        finally:
            for member in joined:
                await member.stop()

    with pytest.raises(CommitFailedError):
        asyncio.run(attempt())
    assert asyncio.run(state(settings, group))[:2] == (Registry(1), {0: 3, 1: 2})
