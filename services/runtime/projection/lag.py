"""A projection's consumer lag, as Kafka sees it: for each partition of the group's topics, the records published
and not yet committed by the group. Measured from the broker (the group's committed offsets against the end
offsets), not from inside the consumer, so it keeps growing while the workers are stuck or gone: what an alert on
lag must see. Each worker reports the whole group's lag; take the max across workers.
"""

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from services.runtime.config import Settings
from services.runtime.projection.groups import committed_offsets
from services.runtime.topics import partitions_of

# How often a worker measures its group's lag.
LAG_SECONDS = 10.0

CONSUMER_LAG = Gauge(
    "chirp_projection_consumer_lag",
    "Records of a partition that the projection's consumer group has not committed yet.",
    ["group", "topic", "partition"],
)


class GroupLag:
    """Measures one group's lag on its topics into CONSUMER_LAG; opened on first use, inside the running loop."""

    def __init__(self, settings: Settings, group: str, topics: Sequence[str]) -> None:
        self._settings = settings
        self._group = group
        self._topics = list(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def measure(self) -> None:
        if self._consumer is None or self._admin is None:
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self._settings.kafka_bootstrap)
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.kafka_bootstrap)
            await self._consumer.start()
            await self._admin.start()
        partitions = await partitions_of(self._consumer, self._topics)
        ends = await self._consumer.end_offsets(partitions)
        committed = await committed_offsets(self._admin, self._group, partitions)
        for tp, end in ends.items():
            CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(max(0, end - committed.get(tp, 0)))

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
