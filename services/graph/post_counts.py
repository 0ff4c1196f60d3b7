"""The graph service's projection of the post topic: which posts each author has, counted for UserStats.

No service reads another's tables, so the graph service keeps its own (author, post) rows, the way the timeline
and notification projections do (docs/architecture.md): each row is keyed by the event and written at the event's
time, so applying an event twice or replaying the topic changes nothing; offsets are committed only after the
writes they cover, so a crash at any instant loses nothing; a batch that fails is retried until it succeeds, and
a record that cannot be applied is logged with where it is and passed over (the graph has no dead-letter producer).
It runs as a task of the graph process, beside the gRPC API, in consumer group `<topic prefix>chirp-graph`.
"""

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError

from chirp.post.v1 import post_pb2
from services.graph.repository import GraphRepository
from services.runtime.config import Settings
from services.runtime.events import micros_of
from services.runtime.projection import BATCH_SIZE, MAX_BACKOFF_SECONDS, Record, apply_until_done, envelope_of

log = structlog.get_logger(__name__)

NAME = "graph-post-counts"


class PostCountProjection:
    def __init__(self, repo: GraphRepository, post_topic: str) -> None:
        self._repo = repo
        self._envelopes = {post_topic: post_pb2.PostEvent}

    async def apply(self, records: Sequence[Record]) -> None:
        """Concurrently: the write times, not the order, decide between a post's creation and its deletion."""
        writes = []
        for event in [envelope_of(record, self._envelopes) for record in records]:
            kind = event.WhichOneof("payload")
            if kind == "post_created":
                post = event.post_created.post
                writes.append(self._repo.add_post(post.author_id, post.post_id, micros_of(event.occurred_at)))
            elif kind == "post_deleted":
                deleted = event.post_deleted
                writes.append(self._repo.remove_post(deleted.author_id, deleted.post_id, micros_of(event.occurred_at)))
        await asyncio.gather(*writes)


async def run_post_counts(settings: Settings, post_topic: str, projection: PostCountProjection) -> None:
    """Consume until cancelled. A consumer that fails is replaced after a pause; it resumes from the committed
    offsets, and re-applying what had not been committed is harmless."""
    while True:
        consumer = AIOKafkaConsumer(
            post_topic,
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="chirp-graph",
            group_id=settings.consumer_group("graph"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            await _consume(consumer, projection)
        except Exception as error:
            log.warning("post_counts.consumer_failed", error=repr(error), retry_in=MAX_BACKOFF_SECONDS)
        finally:
            await consumer.stop()
        await asyncio.sleep(MAX_BACKOFF_SECONDS)


async def _consume(consumer: AIOKafkaConsumer, projection: PostCountProjection) -> None:
    """Batch after batch: apply it (retrying until it succeeds), then commit its offsets."""
    while True:
        batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH_SIZE)
        records = [
            Record(r.topic, r.partition, r.offset, r.key, r.value or b"") for items in batches.values() for r in items
        ]
        if not records:
            continue
        await apply_until_done(NAME, projection, records)
        try:
            await consumer.commit({partition: items[-1].offset + 1 for partition, items in batches.items()})
        except CommitFailedError:
            # The group rebalanced meanwhile: whoever holds these partitions now re-applies the batch, harmlessly.
            log.info("post_counts.commit_refused_after_rebalance", size=len(records))
