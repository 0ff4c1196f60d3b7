"""Follow event topics in an API process, for caches that learn from the log what changed.

No consumer group and no commits: every API process reads every partition for itself. It starts LOOKBACK_SECONDS
back, so that what the projections may not have applied yet when the process starts is seen too, and it is
`following` only once it has caught up with where the log ended at its start and while its partitions keep being
polled. A cache asks `following` before it answers from memory, and reads the store while it is not.
"""

import asyncio
import time
from collections.abc import Callable, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.runtime.config import Settings
from services.runtime.topics import partitions_of

log = structlog.get_logger(__name__)

# How far back a tail starts: longer than a projection lags in normal running.
LOOKBACK_SECONDS = 600
# A partition not polled for this long means the tail has lost the broker: stop trusting what it knows.
STALE_SECONDS = 10.0


class EventTail:
    """Hands each record of `topics` to `on_record`, in order per partition."""

    def __init__(
        self, settings: Settings, topics: Sequence[str], on_record: Callable[[ConsumerRecord], None], name: str
    ) -> None:
        self._topics = list(topics)
        self._on_record = on_record
        self._new_consumer = lambda: AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"chirp-{name}-tail",
            group_id=None,
            enable_auto_commit=False,
            # Only where a partition's offsets for the lookback time are missing (empty, or all older).
            auto_offset_reset="latest",
        )
        self._consumer = self._new_consumer()
        self._partitions: list[TopicPartition] = []
        self._caught_up_to: dict[TopicPartition, int] = {}
        self._caught_up = False
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Begin following in the background: the process serves at once, from the store until the tail has caught
        up, even while Kafka cannot be reached."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self._seek_to_lookback()
                break
            except Exception as error:  # Kafka not reachable or not ready yet: the cache waits, reads do not
                log.warning("tail.start_failed", topics=self._topics, error=repr(error))
                await self._consumer.stop()
                self._consumer = self._new_consumer()  # a stopped consumer does not start again
                await asyncio.sleep(1)
        await self._follow()

    async def _seek_to_lookback(self) -> None:
        await self._consumer.start()
        self._partitions = await partitions_of(self._consumer, self._topics)
        self._consumer.assign(self._partitions)
        since = int((time.time() - LOOKBACK_SECONDS) * 1000)
        starts = await self._consumer.offsets_for_times({tp: since for tp in self._partitions})
        self._caught_up_to = await self._consumer.end_offsets(self._partitions)
        for tp in self._partitions:
            found = starts.get(tp)
            self._consumer.seek(tp, found.offset if found is not None else self._caught_up_to[tp])

    @property
    def following(self) -> bool:
        """Caught up with the log's end as of the start, and every partition polled within STALE_SECONDS."""
        if self._task is None or self._task.done() or not self._caught_up:
            return False
        now_ms = time.time() * 1000
        return all(
            (self._consumer.last_poll_timestamp(tp) or 0) > now_ms - STALE_SECONDS * 1000 for tp in self._partitions
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _follow(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=1000, max_records=1000)
            except Exception as error:  # the consumer resumes from its position: nothing is skipped
                log.warning("tail.fetch_failed", topics=self._topics, error=repr(error))
                await asyncio.sleep(1)
                continue
            for records in batches.values():
                for record in records:
                    try:
                        self._on_record(record)
                    except Exception as error:  # a record the cache cannot read is one the projections dead-letter
                        log.warning("tail.record_failed", topic=record.topic, offset=record.offset, error=repr(error))
            if not self._caught_up:
                positions = {tp: await self._consumer.position(tp) for tp in self._partitions}
                self._caught_up = all(positions[tp] >= end for tp, end in self._caught_up_to.items())
