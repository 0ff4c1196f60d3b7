"""The notification projection on real Cassandra, fed events with chosen times (as the topics could deliver them),
read back through the API: a big group costs listing no more than a small one, followers regroup after a window,
and what a group shows settles the same in any order of replay."""

import asyncio
import itertools
import random
import uuid
from datetime import timedelta

import pytest

from chirp.graph.v1 import graph_pb2
from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as pb
from chirp.post.v1 import post_pb2
from services.notification.api import NotificationApi
from services.notification.domain import MAX_COUNTED_ACTORS
from services.notification.projection import NotificationProjection
from services.notification.repository import NotificationRepository
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import timestamp_from_ms
from services.runtime.config import Settings
from services.runtime.ids import first_id_at
from services.runtime.projection.records import Record
from services.runtime.schema import migrate

POSTS, GRAPH, NOTIFICATIONS = "posts", "graph", "notifications"
T0 = 1_800_000_000_000  # ms, 2027-01-15 08:00 UTC: a 12-hour window of followers starts at 00:00 and 12:00
HOUR = 3_600_000
_ids = itertools.count(1)
_offsets = itertools.count()


class Counting:
    """A session that counts what reads return: statements run and rows read (listing has no aggregates, so
    every row Cassandra gives back is one it read)."""

    def __init__(self, session: CassandraSession) -> None:
        self._session = session
        self.selects = 0
        self.rows = 0

    async def execute(self, cql: str, params=None, **kwargs):
        rows = await self._session.execute(cql, params, **kwargs)
        if cql.lstrip().upper().startswith("SELECT"):
            self.selects += 1
            self.rows += len(rows)
        return rows


class Served:
    def __init__(self, repo) -> None:
        self._repo = repo

    async def get(self):
        return self._repo


@pytest.fixture(scope="module")
def settings(infrastructure):
    settings = Settings(keyspace_prefix=f"chirp_n{uuid.uuid4().hex[:8]}")
    asyncio.run(migrate(settings, "notification", "services.notification.schema"))
    yield settings

    async def drop():
        session = await CassandraSession.connect(settings)
        try:
            await session.execute_raw(f"DROP KEYSPACE IF EXISTS {settings.keyspace('notification')}")
        finally:
            session.shutdown()

    asyncio.run(drop())


def _record(topic: str, event) -> Record:
    return Record(topic, 0, next(_offsets), None, event.SerializeToString())


def user(user_id: int) -> Record:
    created = graph_pb2.UserCreated(user=graph_pb2.User(user_id=user_id, handle=f"u{user_id}"))
    return _record(GRAPH, graph_pb2.GraphEvent(occurred_at=timestamp_from_ms(T0 - HOUR), user_created=created))


def followed(follower: int, followee: int, at_ms: int) -> Record:
    follow = graph_pb2.UserFollowed(follower_id=follower, followee_id=followee)
    return _record(GRAPH, graph_pb2.GraphEvent(occurred_at=timestamp_from_ms(at_ms), user_followed=follow))


def unfollowed(follower: int, followee: int, at_ms: int) -> Record:
    unfollow = graph_pb2.UserUnfollowed(follower_id=follower, followee_id=followee)
    return _record(GRAPH, graph_pb2.GraphEvent(occurred_at=timestamp_from_ms(at_ms), user_unfollowed=unfollow))


def posted(author: int, at_ms: int) -> tuple[int, Record]:
    post_id = first_id_at(at_ms) + author
    created = post_pb2.PostCreated(
        post=post_pb2.Post(post_id=post_id, author_id=author, text="hi", create_time=timestamp_from_ms(at_ms))
    )
    return post_id, _record(POSTS, post_pb2.PostEvent(occurred_at=timestamp_from_ms(at_ms), post_created=created))


def liked(post_id: int, author: int, fan: int, at_ms: int) -> Record:
    like = post_pb2.PostLiked(post_id=post_id, author_id=author, user_id=fan)
    return _record(POSTS, post_pb2.PostEvent(occurred_at=timestamp_from_ms(at_ms), post_liked=like))


def unliked(post_id: int, author: int, fan: int, at_ms: int) -> Record:
    unlike = post_pb2.PostUnliked(post_id=post_id, author_id=author, user_id=fan)
    return _record(POSTS, post_pb2.PostEvent(occurred_at=timestamp_from_ms(at_ms), post_unliked=unlike))


class Notifications:
    """The projection and the API over one keyspace, for a scenario of its own users."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = 1_000_000 * next(_ids)

    def users(self, count: int) -> list[int]:
        return [self.base + next(_ids) for _ in range(count)]

    def run(self, work):
        async def go():
            session = await CassandraSession.connect(self.settings)
            try:
                return await work(session)
            finally:
                session.shutdown()

        return asyncio.run(go())

    def _repo(self, session) -> NotificationRepository:
        keyspace = self.settings.keyspace("notification")
        return NotificationRepository(session, keyspace, keyspace)

    def apply(self, *batches: list[Record], follow_window: timedelta = timedelta(hours=12)) -> None:
        async def work(session):
            projection = NotificationProjection(
                self._repo(session), POSTS, GRAPH, 10, NOTIFICATIONS, follow_window=follow_window
            )
            for batch in batches:
                await projection.apply(batch)

        self.run(work)

    def listed(self, recipient: int, page_size: int = 20) -> tuple[list[notification_pb2.Notification], Counting]:
        async def work(session):
            counting = Counting(session)
            api = NotificationApi(Served(self._repo(counting)), None, None, NOTIFICATIONS)
            response = await api.ListNotifications(
                pb.ListNotificationsRequest(user_id=recipient, page_size=page_size), None
            )
            return list(response.notifications), counting

        return self.run(work)

    def feed_rows(self, recipient: int) -> list[tuple]:
        async def work(session):
            rows = await session.execute(
                f"SELECT create_time, group_key, actor_id, writetime(actor_id) AS written FROM"
                f" {self.settings.keyspace('notification')}.group_feed WHERE recipient_id = ?",
                (recipient,),
            )
            return [tuple(row) for row in rows]

        return self.run(work)


def test_listing_a_post_liked_many_times_reads_as_much_as_listing_one_liked_once(settings):
    n = Notifications(settings)
    big, small, *fans = n.users(2 + 3 * MAX_COUNTED_ACTORS)
    big_post, big_created = posted(big, T0)
    small_post, small_created = posted(small, T0)
    n.apply(
        [user(u) for u in (big, small, *fans)],
        [big_created, small_created],
        [liked(big_post, big, fan, T0 + 1_000 + i) for i, fan in enumerate(fans)],
        [liked(small_post, small, fans[0], T0 + 1_000)],
    )
    # One feed row per group, whatever its size: the older acts' rows went as newer acts came.
    assert [row[1:3] for row in n.feed_rows(big)] == [(f"like:{big_post}", fans[-1])]

    [many], reading_many = n.listed(big)
    [one], reading_one = n.listed(small)
    assert (many.actor_id, many.actor_count) == (fans[-1], MAX_COUNTED_ACTORS)  # counted up to the cap
    assert (one.actor_id, one.actor_count) == (fans[0], 1)
    # The same statements, and rows bounded by the cap: 3 * MAX_COUNTED_ACTORS likes read like MAX_COUNTED_ACTORS.
    assert reading_many.selects == reading_one.selects
    assert reading_many.rows <= reading_one.rows + MAX_COUNTED_ACTORS
    assert reading_many.rows < len(fans) / 2


def test_taking_back_the_newest_like_moves_the_group_back_to_the_one_before_in_any_order(settings):
    outcomes = []
    for order in range(3):
        n = Notifications(settings)
        author, ana, bob, cai = n.users(4)
        post_id, created = posted(author, T0)
        events = [
            liked(post_id, author, ana, T0 + 1_000),
            liked(post_id, author, bob, T0 + 2_000),
            liked(post_id, author, cai, T0 + 3_000),
        ]
        random.Random(order).shuffle(events)  # likes of one post share a partition; the point is the rows' times
        n.apply([user(u) for u in (author, ana, bob, cai)], [created], *[[e] for e in events])
        n.apply([unliked(post_id, author, cai, T0 + 4_000)])
        [note], _ = n.listed(author)
        rows = n.feed_rows(author)
        role = {ana: "ana", bob: "bob", cai: "cai"}
        outcomes.append(((role[note.actor_id], note.actor_count), [(r[0], role[r[2]], r[3]) for r in rows]))
        assert (note.actor_id, note.actor_count) == (bob, 2)
        n.apply([unliked(post_id, author, bob, T0 + 5_000)], [unliked(post_id, author, ana, T0 + 6_000)])
        assert n.listed(author)[0] == [] and n.feed_rows(author) == []
    # The row at bob's like, written just after cai's like, whatever the order the likes were applied in.
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_new_followers_regroup_after_a_window_of_time(settings):
    n = Notifications(settings)
    ana, bob, cai, dan = n.users(4)
    morning = T0  # 08:00 UTC
    n.apply(
        [user(u) for u in (ana, bob, cai, dan)],
        [followed(bob, ana, morning), followed(cai, ana, morning + HOUR)],  # 08:00, 09:00: one group
        [followed(dan, ana, morning + 5 * HOUR)],  # 13:00: the next window
    )
    notes, _ = n.listed(ana)
    assert [(x.actor_id, x.actor_count) for x in notes] == [(dan, 1), (cai, 2)]
    assert len({x.group_key for x in notes}) == 2 and all(x.group_key.startswith("follow:") for x in notes)
    # An unfollow takes the follower out of the window their follow joined.
    n.apply([unfollowed(cai, ana, morning + 6 * HOUR)])
    notes, _ = n.listed(ana)
    assert [(x.actor_id, x.actor_count) for x in notes] == [(dan, 1), (bob, 1)]


def test_the_window_of_followers_is_a_setting(settings):
    n = Notifications(settings)
    ana, *fans = n.users(4)
    n.apply(
        [user(u) for u in (ana, *fans)],
        [followed(fan, ana, T0 + i * 20 * 60_000) for i, fan in enumerate(fans)],  # 08:00, 08:20, 08:40
        follow_window=timedelta(minutes=30),
    )
    notes, _ = n.listed(ana)
    assert [x.actor_count for x in notes] == [1, 2]  # 08:30-09:00, then 08:00-08:30
