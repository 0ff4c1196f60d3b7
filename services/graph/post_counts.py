"""The graph service's projection of the post topic: which posts each author has, counted for UserStats.

No service reads another's tables, so the graph service keeps its own (author, post) rows, the way the timeline
and notification projections do (docs/architecture.md): each row is keyed by the event and written at the event's
time, so applying an event twice or replaying the topic changes nothing. It runs on the shared projection engine
(services/runtime/projection), with its crash guarantees and dead letters, in consumer group
`<topic prefix>chirp-graph`, beside the gRPC API or as a worker of its own.
"""

import asyncio
from collections.abc import Sequence

from chirp.post.v1 import post_pb2
from services.graph.repository import GraphRepository
from services.runtime.clock import micros_of
from services.runtime.projection.records import Record, envelope_of


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
