"""A projection's consumer lag is measured from the broker: per partition, published minus committed, whether or
not any worker is running."""

import asyncio
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.runtime.config import Settings
from services.runtime.projection.groups import commit_offsets, delete_group
from services.runtime.projection.lag import CONSUMER_LAG, GroupLag


def test_the_lag_of_each_partition_is_what_was_published_and_not_committed(infrastructure):
    settings = Settings(topic_prefix=f"lag{uuid.uuid4().hex[:8]}.")
    topic, group = settings.topic("events"), settings.consumer_group("demo")

    async def run() -> dict[int, float]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        for partition, count in ((0, 5), (1, 2)):
            for _ in range(count):
                await producer.send_and_wait(topic, b"event", partition=partition)
        await producer.stop()
        # Partition 0: 3 of 5 committed; partition 1: nothing committed yet; partition 2: empty.
        await commit_offsets(settings, group, {TopicPartition(topic, 0): 3})
        lag = GroupLag(settings, group, [topic])
        try:
            await lag.measure()
        finally:
            await lag.close()
            await delete_group(admin, group)
            await admin.delete_topics([topic])
            await admin.close()
        return {p: CONSUMER_LAG.labels(group, topic, str(p))._value.get() for p in range(3)}

    assert asyncio.run(run()) == {0: 2, 1: 2, 2: 0}
