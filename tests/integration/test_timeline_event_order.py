"""The timeline projection on real Cassandra, fed events in an order the two topics allow but the clock does not:
the outcome must not depend on which partition was applied first."""

import asyncio
import itertools

import pytest

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import timestamp_from_ms
from services.runtime.ids import first_id_at
from services.runtime.projection.records import Record
from services.runtime.schema import migrate
from services.timeline.api import home_page
from services.timeline.projection import TimelineProjection
from services.timeline.reader_state import ReaderState
from services.timeline.repository import TimelineRepository

POSTS, GRAPH = "posts", "graph"
T0 = 1_800_000_000_000  # ms
# Each scenario has its own reader and author, so all share one copy of the tables.
_ids = itertools.count(1)


class Scenario:
    def __init__(self, keyspace: str) -> None:
        self.keyspace = keyspace
        self.reader, self.author = next(_ids), 1_000 + next(_ids)
        self._offsets = itertools.count()

    def _record(self, topic: str, event) -> Record:
        return Record(topic, 0, next(self._offsets), None, event.SerializeToString())

    def followed(self, at_ms: int) -> Record:
        follow = graph_pb2.UserFollowed(follower_id=self.reader, followee_id=self.author)
        return self._record(GRAPH, graph_pb2.GraphEvent(occurred_at=timestamp_from_ms(at_ms), user_followed=follow))

    def unfollowed(self, at_ms: int) -> Record:
        unfollow = graph_pb2.UserUnfollowed(follower_id=self.reader, followee_id=self.author)
        return self._record(GRAPH, graph_pb2.GraphEvent(occurred_at=timestamp_from_ms(at_ms), user_unfollowed=unfollow))

    def posted(self, at_ms: int) -> tuple[int, Record]:
        post_id = first_id_at(at_ms) + self.author  # distinct per scenario, still at `at_ms`
        created = post_pb2.PostCreated(
            post=post_pb2.Post(post_id=post_id, author_id=self.author, text="hi", create_time=timestamp_from_ms(at_ms))
        )
        return post_id, self._record(
            POSTS, post_pb2.PostEvent(occurred_at=timestamp_from_ms(at_ms), post_created=created)
        )

    def home_after(self, settings, *batches: list[Record]) -> list[int]:
        """Apply the batches one after the other and read the reader's home timeline."""

        async def run():
            session = await CassandraSession.connect(settings)
            try:
                repo = TimelineRepository(session, self.keyspace)
                readers = ReaderState(session, self.keyspace)
                projection = TimelineProjection(repo, readers, POSTS, GRAPH, fanout_threshold=10_000)
                for batch in batches:
                    await projection.apply(batch)
                return [entry.post_id for entry in await home_page(repo, self.reader, 2**63 - 1, 100)]
            finally:
                session.shutdown()

        return asyncio.run(run())


@pytest.fixture(scope="module")
def tables(system) -> str:
    asyncio.run(migrate(system.settings, "timeline_event_order", "services.timeline.schema"))
    return system.settings.keyspace("timeline_event_order")


def test_a_post_created_after_an_unfollow_but_applied_before_it_does_not_stay(system, tables):
    # In time: follow, post, unfollow, post. Applied: the second post (its partition ran ahead), then the unfollow.
    s = Scenario(tables)
    _, kept = s.posted(T0 + 1_000)
    _, late = s.posted(T0 + 3_000)
    assert s.home_after(system.settings, [s.followed(T0)], [kept], [late], [s.unfollowed(T0 + 2_000)]) == []
    # Applied in time order, the same events leave the same empty timeline.
    s = Scenario(tables)
    _, kept = s.posted(T0 + 1_000)
    _, late = s.posted(T0 + 3_000)
    assert s.home_after(system.settings, [s.followed(T0)], [kept], [s.unfollowed(T0 + 2_000)], [late]) == []


def test_a_follow_again_after_the_unfollow_brings_the_posts_back(system, tables):
    s = Scenario(tables)
    kept_id, kept = s.posted(T0 + 1_000)
    late_id, late = s.posted(T0 + 3_000)
    assert s.home_after(system.settings, [s.followed(T0)], [kept], [late]) == [late_id, kept_id]
    assert s.home_after(system.settings, [s.unfollowed(T0 + 2_000)], [s.followed(T0 + 4_000)]) == [late_id, kept_id]
