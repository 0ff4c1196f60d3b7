"""How far a consumer group is behind the topics it reads: what tells the bench a projection has caught up."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class ConsumerLag:
    """How far a consumer group is behind the end of some topics (committed offsets, so it trails by <1 s)."""

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return await self._consumer.end_offsets(partitions)

    async def of(self, group: str, partitions: list[TopicPartition]) -> int:
        ends = await self.end_offsets(partitions)
        committed = await self._admin.list_consumer_group_offsets(group)
        return sum(end - max(0, committed[tp].offset if tp in committed else 0) for tp, end in ends.items())
