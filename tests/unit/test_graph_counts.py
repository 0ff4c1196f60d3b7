"""The counts GetUser answers: the rule that settles an edge's events, and the count projection over an in-memory
table, fed duplicates, replays, reorderings and records that do not parse."""

import random
from datetime import UTC, datetime, timedelta

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.graph.counts import CountProjection
from services.graph.domain import CountKind, EdgeChange, EdgeState, Follow, applied, ended_at, settle, supersedes
from services.graph.repository import Counted
from services.runtime.clock import timestamp_from_ms
from services.runtime.config import Settings
from services.runtime.envelopes import event_id_for
from services.runtime.projection.records import Record
from services.runtime.projection.runner import apply_until_done
from services.runtime.topics import GRAPH_COUNTS, GRAPH_EVENTS, POST_EVENTS

FOLLOWERS, FOLLOWING, POSTS = CountKind.FOLLOWERS, CountKind.FOLLOWING, CountKind.POSTS
SETTINGS = Settings()
GRAPH_TOPIC, COUNTS_TOPIC, POST_TOPIC = (SETTINGS.topic(t.name) for t in (GRAPH_EVENTS, GRAPH_COUNTS, POST_EVENTS))


def test_the_later_event_of_an_edge_wins_and_an_end_wins_a_tie():
    assert supersedes(EdgeState(2, False), EdgeState(1, True), FOLLOWERS)
    assert supersedes(EdgeState(3, True), EdgeState(2, False), FOLLOWERS), "a follow again after an unfollow"
    assert not supersedes(EdgeState(1, True), EdgeState(2, False), FOLLOWERS), "an older follow replayed late"
    assert supersedes(EdgeState(2, False), EdgeState(2, True), FOLLOWING), "a tie: the end wins, as a tombstone"
    assert not supersedes(EdgeState(2, True), EdgeState(2, False), FOLLOWING)
    assert not supersedes(EdgeState(2, True), EdgeState(2, True), FOLLOWING), "a duplicate changes nothing"
    assert supersedes(EdgeState(1, True), None, FOLLOWING)


def test_a_deleted_post_stays_deleted_whatever_the_times_say():
    assert supersedes(EdgeState(1, False), EdgeState(5, True), POSTS), "a deletion from a clock behind"
    assert not supersedes(EdgeState(9, True), EdgeState(5, False), POSTS), "a creation replayed after it"
    assert not supersedes(EdgeState(1, True), EdgeState(1, True), POSTS)


def test_an_unfollow_takes_effect_after_the_follow_it_ends_even_from_a_clock_behind():
    at = datetime(2026, 3, 1, tzinfo=UTC)
    follow = Follow(1, 2, at)
    assert ended_at(follow, at - timedelta(seconds=3)) == at + timedelta(microseconds=1)
    assert ended_at(follow, at + timedelta(seconds=3)) == at + timedelta(seconds=3)


def test_a_batch_settles_each_edge_to_its_last_state_and_the_count_moves_only_when_an_edge_changes():
    changes = [
        EdgeChange(1, FOLLOWERS, 7, EdgeState(10, True)),
        EdgeChange(1, FOLLOWERS, 7, EdgeState(20, False)),
        EdgeChange(1, FOLLOWERS, 7, EdgeState(10, True)),  # the follow again, after its unfollow: a duplicate
        EdgeChange(1, FOLLOWERS, 8, EdgeState(15, True)),
        EdgeChange(2, FOLLOWING, 1, EdgeState(15, True)),
    ]
    settled = settle(changes)
    assert settled == {
        (1, FOLLOWERS): {7: EdgeState(20, False), 8: EdgeState(15, True)},
        (2, FOLLOWING): {1: EdgeState(15, True)},
    }
    assert applied(0, {}, settled[(1, FOLLOWERS)], FOLLOWERS) == (1, settled[(1, FOLLOWERS)])
    stored = {7: EdgeState(5, True), 8: EdgeState(15, True)}
    assert applied(2, stored, settled[(1, FOLLOWERS)], FOLLOWERS) == (1, {7: EdgeState(20, False)})
    assert applied(2, stored, {8: EdgeState(15, True)}, FOLLOWERS) == (2, {})


class MemoryCounts:
    """The repository's count methods over a dict: (user, kind) -> (total, written, {other: state})."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, CountKind], tuple[int, int, dict[int, EdgeState]]] = {}
        self.writes = 0

    async def counted(self, user_id, kind, other_ids):
        total, written, edges = self.rows.get((user_id, kind), (0, 0, {}))
        return Counted(total, written, {o: edges[o] for o in other_ids if o in edges})

    async def save_counted(self, user_id, kind, total, edges, at):
        _, written, stored = self.rows.get((user_id, kind), (0, 0, {}))
        assert at > written, "every write lands after the last one"
        self.rows[(user_id, kind)] = (total, at, {**stored, **edges})
        self.writes += 1

    def total(self, user_id: int, kind: CountKind) -> int:
        return self.rows.get((user_id, kind), (0, 0, {}))[0]

    def present(self, user_id: int, kind: CountKind) -> int:
        return sum(s.present for s in self.rows.get((user_id, kind), (0, 0, {}))[2].values())


class Repartition:
    """Collects the copies the projection publishes, as records of the repartition topic."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def __call__(self, topic: str, key: int, copy: graph_pb2.CountEvent) -> None:
        assert topic == COUNTS_TOPIC
        self.records.append(Record(topic, key % 6, len(self.records), str(key).encode(), copy.SerializeToString()))


def follow_event(follower: int, followee: int, ms: int, follows: bool = True) -> graph_pb2.GraphEvent:
    edge = {"follower_id": follower, "followee_id": followee}
    payload = (
        {"user_followed": graph_pb2.UserFollowed(**edge)}
        if follows
        else {"user_unfollowed": graph_pb2.UserUnfollowed(**edge)}
    )
    return graph_pb2.GraphEvent(
        event_id=event_id_for("follow", follower, followee, ms, follows), occurred_at=timestamp_from_ms(ms), **payload
    )


def graph_record(offset: int, event: graph_pb2.GraphEvent | bytes) -> Record:
    value = event if isinstance(event, bytes) else event.SerializeToString()
    key = (
        str(event.user_followed.follower_id or event.user_unfollowed.follower_id)
        if not isinstance(event, bytes)
        else ""
    )
    return Record(GRAPH_TOPIC, 0, offset, key.encode(), value)


def post_record(offset: int, author: int, post_id: int, ms: int, created: bool = True) -> Record:
    if created:
        payload = {"post_created": post_pb2.PostCreated(post=post_pb2.Post(post_id=post_id, author_id=author))}
    else:
        payload = {"post_deleted": post_pb2.PostDeleted(post_id=post_id, author_id=author)}
    event = post_pb2.PostEvent(event_id=f"p{post_id}{created}", occurred_at=timestamp_from_ms(ms), **payload)
    return Record(POST_TOPIC, 0, offset, str(author).encode(), event.SerializeToString())


class CollectedDeadLetters:
    def __init__(self) -> None:
        self.records = []

    async def send(self, record, error) -> None:
        self.records.append(record)


async def apply(projection: CountProjection, records: list[Record], dead_letters=None) -> None:
    await apply_until_done("graph", projection, records, dead_letters or CollectedDeadLetters(), max_attempts=2)


async def test_follows_are_counted_for_the_follower_at_once_and_for_the_followee_through_the_repartition_topic():
    repo, repartition = MemoryCounts(), Repartition()
    projection = CountProjection(repo, SETTINGS, repartition)
    await apply(projection, [graph_record(0, follow_event(1, 9, 100)), graph_record(1, follow_event(2, 9, 101))])
    assert repo.total(1, FOLLOWING) == repo.total(2, FOLLOWING) == 1
    assert repo.total(9, FOLLOWERS) == 0, "not yet: the followee's count comes from the copies"
    copies = [graph_pb2.CountEvent.FromString(r.value) for r in repartition.records]
    assert [r.key for r in repartition.records] == [b"9", b"9"]
    assert [c.user_followed.follower_id for c in copies] == [1, 2]
    assert copies[0].event_id == follow_event(1, 9, 100).event_id
    assert copies[0].occurred_at == timestamp_from_ms(100)
    await apply(projection, repartition.records)
    assert repo.total(9, FOLLOWERS) == 2
    assert len(repartition.records) == 2, "a copy is never copied again"


async def test_duplicates_replays_and_late_older_events_leave_every_count_equal_to_the_edges_that_hold():
    """Follows and unfollows of many pairs, each event delivered one to three times, the whole log replayed in
    shuffled batches: every count is the number of pairs whose last event is a follow."""
    rng = random.Random(15)
    log, last = [], {}
    for step in range(600):
        pair = (rng.randrange(1, 12), rng.randrange(20, 26))
        follows = rng.random() < 0.6
        log.append(follow_event(*pair, 1000 + step, follows))
        last[pair] = follows
    repo, repartition = MemoryCounts(), Repartition()
    projection = CountProjection(repo, SETTINGS, repartition)
    delivered = [event for event in log for _ in range(rng.choice([1, 1, 2, 3]))]
    for start in range(0, len(delivered), 50):
        await apply(projection, [graph_record(i, e) for i, e in enumerate(delivered[start : start + 50], start)])
    shuffled = log[:]
    rng.shuffle(shuffled)  # a replay in another order (and all of it a second time)
    await apply(projection, [graph_record(i, e) for i, e in enumerate(shuffled)])
    copies = repartition.records[:]
    rng.shuffle(copies)
    for start in range(0, len(copies), 70):
        await apply(projection, copies[start : start + 70])
    for follower in range(1, 12):
        expected = sum(1 for (a, _), holds in last.items() if a == follower and holds)
        assert repo.total(follower, FOLLOWING) == repo.present(follower, FOLLOWING) == expected
    for followee in range(20, 26):
        expected = sum(1 for (_, b), holds in last.items() if b == followee and holds)
        assert repo.total(followee, FOLLOWERS) == repo.present(followee, FOLLOWERS) == expected
    writes = repo.writes
    await apply(projection, copies)
    assert repo.writes == writes, "applying what was applied writes nothing"


async def test_posts_are_counted_from_the_post_topic_and_a_deletion_stays_whatever_arrives_after_it():
    repo = MemoryCounts()
    projection = CountProjection(repo, SETTINGS, Repartition())
    records = [post_record(0, 1, 10, 1000), post_record(1, 1, 11, 1001), post_record(2, 1, 10, 900, created=False)]
    await apply(projection, records)
    await apply(projection, records)
    await apply(projection, [post_record(3, 1, 10, 5000)])  # the creation replayed after its deletion
    assert repo.total(1, POSTS) == 1


async def test_a_celebritys_batch_is_written_a_hundred_edges_at_a_time_each_write_with_its_count():
    repo = MemoryCounts()
    projection = CountProjection(repo, SETTINGS, Repartition())
    copies = []
    for fan in range(1, 251):
        copy = graph_pb2.CountEvent(event_id=str(fan), occurred_at=timestamp_from_ms(fan))
        copy.user_followed.CopyFrom(graph_pb2.UserFollowed(follower_id=fan, followee_id=7))
        copies.append(Record(COUNTS_TOPIC, 1, fan, b"7", copy.SerializeToString()))
    await apply(projection, copies)
    assert repo.total(7, FOLLOWERS) == 250 and repo.writes == 3


async def test_a_record_that_does_not_parse_or_names_no_user_is_set_aside_and_the_rest_is_counted():
    repo = MemoryCounts()
    projection = CountProjection(repo, SETTINGS, Repartition())
    dead_letters = CollectedDeadLetters()
    bad = [graph_record(1, b"\xff not protobuf"), graph_record(2, follow_event(0, 9, 5))]
    records = [graph_record(0, follow_event(1, 9, 5)), *bad, graph_record(3, follow_event(2, 9, 6))]
    await apply(projection, records, dead_letters)
    assert dead_letters.records == bad
    assert repo.total(1, FOLLOWING) == repo.total(2, FOLLOWING) == 1
