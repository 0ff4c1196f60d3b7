"""The graph service's count projection: the follower, following and post counts GetUser answers, exact however
often an event is delivered, and read in constant time (three rows, whatever the number of edges).

A count is derived from edges, never incremented blindly: a Cassandra counter, or +1 per event, would count a
redelivered or replayed event twice. For each counted (user, kind) the projection keeps, in one partition of
`user_counts` (schema/003_counts.cql), the state of every edge it has applied (the time of the event that set it
and whether the edge holds) beside a plain bigint count. A batch is applied as read, compare, write: an event
changes the count only when it changes its edge's state (`domain.supersedes`: the later event wins, an end wins a
tie, a deleted post stays deleted), so a duplicate, a replay or an older event arriving late changes nothing.
Edges and count are written together, in one batch of one partition: atomic and isolated, so a crash leaves both
or neither and a read never sees one without the other.

Read-modify-write is safe because each (user, kind) has a single writer. Its events all come from one partition
of one topic, which one member of the consumer group owns at a time, and the agent applies batches one after
another (concurrency 1):
- following: UserFollowed and UserUnfollowed of chirp.graph.events.v1, keyed by the follower;
- posts: PostCreated and PostDeleted of chirp.post.events.v1, keyed by the author;
- followers: the same follow events, but a followee's arrive on every partition (they are keyed by the follower),
  so the projection copies each into chirp.graph.counts.v1 keyed by the followee (a repartition topic) and counts
  followers from there. A copy is published before its source event is acknowledged: a crash can only publish it
  again, which the comparison makes harmless; a copy can never be missing.
Writes are made at max(now, the count row's last write + 1 µs), so a new owner of a partition whose clock is
behind the previous owner's still overwrites it.

What the single writer rests on: Kafka gives a partition to one member at a time, and faust finishes the batch in
hand before it gives partitions up in a rebalance. What it does not cover: a worker that stalls longer than the
session timeout (10 s) in the middle of a batch and then resumes writing after its partitions moved to another.
The two could then each read a count before the other wrote it, and lose one update. Fencing that off would take
a conditional write (a Paxos round) per count and batch; it is not done.

The group is `chirp-graph-counts`, not the `chirp-graph` of the post counts before it, so that a deployment that
upgrades replays every topic from the beginning into the new table.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from itertools import islice

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.graph.domain import CountKind, EdgeChange, EdgeState, applied, settle
from services.graph.repository import GraphRepository
from services.runtime.clock import micros_of
from services.runtime.config import Settings
from services.runtime.kafka import EventPublisher
from services.runtime.projection.records import EventError, Record, envelope_of
from services.runtime.resources import SharedResource
from services.runtime.topics import GRAPH_COUNTS, GRAPH_EVENTS, POST_EVENTS

# Edges of one count written per batch: a celebrity's batch of 500 new followers is written 100 at a time (each
# write with the count it adds up to), under Cassandra's batch size warning.
EDGES_PER_WRITE = 100

Publish = Callable[[str, int, graph_pb2.CountEvent], Awaitable[None]]


class CountProjection:
    def __init__(self, repo: GraphRepository, settings: Settings, publish: Publish | None = None) -> None:
        """`publish` sends a copy to the repartition topic; by default a producer of the projection's own."""
        self._repo = repo
        self._graph_topic = settings.topic(GRAPH_EVENTS.name)
        self._counts_topic = settings.topic(GRAPH_COUNTS.name)
        self._post_topic = settings.topic(POST_EVENTS.name)
        self._envelopes = {
            self._graph_topic: graph_pb2.GraphEvent,
            self._counts_topic: graph_pb2.CountEvent,
            self._post_topic: post_pb2.PostEvent,
        }
        self._publisher = SharedResource(
            lambda: _started(EventPublisher(settings.kafka_bootstrap, "chirp-graph-counts"))
        )
        self._publish = publish or self._publish_with_own_producer

    async def apply(self, records: Sequence[Record]) -> None:
        """The batch's copies for the repartition topic and its counts, concurrently (neither needs the other)."""
        changes: list[EdgeChange] = []
        copies: list[tuple[int, graph_pb2.CountEvent]] = []
        for record in records:
            self._read(record, changes, copies)
        await asyncio.gather(
            *(self._publish(self._counts_topic, followee, copy) for followee, copy in copies),
            *(self._count(user_id, kind, edges) for (user_id, kind), edges in settle(changes).items()),
        )

    async def close(self) -> None:
        publisher = self._publisher.built()
        if publisher is not None:
            await publisher.stop()

    def _read(self, record: Record, changes: list[EdgeChange], copies: list[tuple[int, graph_pb2.CountEvent]]) -> None:
        """The edge changes a record says, and the copy it needs on the repartition topic (if any)."""
        event = envelope_of(record, self._envelopes)
        kind = event.WhichOneof("payload")
        version = micros_of(event.occurred_at)
        if record.topic == self._post_topic:
            if kind == "post_created":
                post = event.post_created.post
                changes.append(_change(post.author_id, CountKind.POSTS, post.post_id, version, True))
            elif kind == "post_deleted":
                deleted = event.post_deleted
                changes.append(_change(deleted.author_id, CountKind.POSTS, deleted.post_id, version, False))
            return
        if kind not in ("user_followed", "user_unfollowed"):
            return
        edge = getattr(event, kind)
        present = kind == "user_followed"
        if record.topic == self._counts_topic:
            changes.append(_change(edge.followee_id, CountKind.FOLLOWERS, edge.follower_id, version, present))
            return
        changes.append(_change(edge.follower_id, CountKind.FOLLOWING, edge.followee_id, version, present))
        copy = graph_pb2.CountEvent(event_id=event.event_id, occurred_at=event.occurred_at)
        getattr(copy, kind).CopyFrom(edge)
        copies.append((edge.followee_id, copy))

    async def _count(self, user_id: int, kind: CountKind, edges: dict[int, EdgeState]) -> None:
        """Apply one count's edges, EDGES_PER_WRITE at a time: read their stored states and the count, write the
        edges that change with the count they add up to. Each write stands alone (the next chunk reads it back),
        so a crash between two leaves a count that agrees with its edges."""
        pending = iter(edges.items())
        while chunk := dict(islice(pending, EDGES_PER_WRITE)):
            stored = await self._repo.counted(user_id, kind, list(chunk))
            total, changed = applied(stored.total, stored.edges, chunk, kind)
            if changed:
                at = max(time.time_ns() // 1000, stored.written + 1)
                await self._repo.save_counted(user_id, kind, total, changed, at)

    async def _publish_with_own_producer(self, topic: str, key: int, copy: graph_pb2.CountEvent) -> None:
        publisher = await self._publisher.get()
        await publisher.publish(topic, key, copy)


def _change(user_id: int, kind: CountKind, other_id: int, version: int, present: bool) -> EdgeChange:
    if user_id <= 0 or other_id <= 0:
        # 0 would be the count's own row (repository.COUNT_ROW); no id Chirp makes is below 1.
        raise EventError(f"a {kind} edge between {user_id} and {other_id} names no user or post")
    return EdgeChange(user_id, kind, other_id, EdgeState(version, present))


async def _started(publisher: EventPublisher) -> EventPublisher:
    await publisher.start()
    return publisher
