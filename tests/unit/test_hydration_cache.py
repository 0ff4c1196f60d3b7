"""The timeline API's memory of posts and people answers what the store would, and what the log says changed wins
over a store that has not caught up."""

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.envelopes import EVENT_TYPE_HEADER, event_type_of
from services.timeline.hydration_cache import HydrationCache
from services.timeline.repository import StoredPost, StoredUser


def record(envelope) -> SimpleNamespace:
    """What the tail hands over: the headers a publisher sets and the envelope's bytes."""
    return SimpleNamespace(
        headers=[(EVENT_TYPE_HEADER, event_type_of(envelope).encode())], value=envelope.SerializeToString()
    )


def deleted(post_id: int) -> SimpleNamespace:
    return record(post_pb2.PostEvent(post_deleted=post_pb2.PostDeleted(post_id=post_id, author_id=1)))


def renamed(user_id: int, handle: str, name: str) -> SimpleNamespace:
    user = graph_pb2.User(user_id=user_id, handle=handle, display_name=name)
    return record(graph_pb2.GraphEvent(profile_updated=graph_pb2.ProfileUpdated(user=user)))


def stored_post(post_id: int) -> StoredPost:
    entities = post_pb2.Post(hashtags=[post_pb2.TextEntity(value="tag", start=0, end=4)]).SerializeToString()
    return StoredPost(post_id, 7, f"post {post_id} #tag", datetime(2026, 1, 1, tzinfo=UTC), entities=entities)


class Store:
    """The projection's tables as the cache sees them: what it reads, and how often."""

    def __init__(self, posts: dict[int, StoredPost], users: dict[int, StoredUser]) -> None:
        self.posts, self.users, self.asked = posts, users, []
        self.mutes: dict[int, set[int]] = {}
        self.while_reading = lambda: None  # what happens between the read's start and its answer

    async def get_posts(self, ids: list[int]) -> dict[int, StoredPost]:
        self.asked.append(("posts", sorted(ids)))
        self.while_reading()
        return {i: self.posts[i] for i in ids if i in self.posts}

    async def get_users(self, ids: set[int]) -> dict[int, StoredUser]:
        self.asked.append(("users", sorted(ids)))
        self.while_reading()
        return {i: self.users[i] for i in ids if i in self.users}

    async def muted_ids(self, reader: int) -> set[int]:
        self.asked.append(("mutes", reader))
        self.while_reading()
        return set(self.mutes.get(reader, ()))


def muted(muter: int, other: int, is_muted: bool = True) -> SimpleNamespace:
    if is_muted:
        return record(graph_pb2.GraphEvent(user_muted=graph_pb2.UserMuted(muter_id=muter, muted_id=other)))
    return record(graph_pb2.GraphEvent(user_unmuted=graph_pb2.UserUnmuted(muter_id=muter, muted_id=other)))


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_second_page_of_the_same_posts_reads_nothing_while_the_tail_follows():
    store = Store({1: stored_post(1), 2: stored_post(2)}, {})
    cache = HydrationCache(10, 10, following=lambda: True)
    first = run(cache.posts([1, 2, 3], store.get_posts))
    again = run(cache.posts([2, 1], store.get_posts))
    assert store.asked == [("posts", [1, 2, 3])]
    assert set(first) == set(again) == {1, 2}
    body = again[1].body
    assert (body.post_id, body.author_id, body.text, body.hashtags[0].value) == (1, 7, "post 1 #tag", "tag")
    assert body.create_time.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 1, tzinfo=UTC)


def test_while_the_tail_is_not_following_every_page_reads_the_store():
    store = Store({1: stored_post(1)}, {5: StoredUser(5, "ana", "Ana")})
    cache = HydrationCache(10, 10, following=lambda: False)
    for _ in range(2):
        assert set(run(cache.posts([1], store.get_posts))) == {1}
        assert run(cache.users({5}, store.get_users)) == {5: StoredUser(5, "ana", "Ana")}
    assert store.asked == [("posts", [1]), ("users", [5])] * 2


def test_a_deleted_post_is_gone_at_once_though_the_store_still_has_it():
    store = Store({1: stored_post(1), 2: stored_post(2)}, {})
    for following in (True, False):
        cache = HydrationCache(10, 10, following=lambda following=following: following)
        run(cache.posts([1, 2], store.get_posts))
        cache.on_record(deleted(1))
        assert set(run(cache.posts([1, 2], store.get_posts))) == {2}


def test_a_post_deleted_while_it_was_read_is_neither_shown_nor_kept():
    store = Store({1: stored_post(1)}, {})
    cache = HydrationCache(10, 10, following=lambda: True)
    store.while_reading = lambda: cache.on_record(deleted(1))
    assert run(cache.posts([1], store.get_posts)) == {}
    store.while_reading = lambda: None
    assert run(cache.posts([1], store.get_posts)) == {}
    assert store.asked == [("posts", [1])], "a deleted id is not asked for again"


def test_a_renamed_person_shows_the_new_name_though_the_store_still_has_the_old_one():
    store = Store({}, {5: StoredUser(5, "ana", "Ana")})
    cache = HydrationCache(10, 10, following=lambda: True)
    assert run(cache.users({5}, store.get_users)) == {5: StoredUser(5, "ana", "Ana")}
    cache.on_record(renamed(5, "ana_r", "Ana R."))
    assert run(cache.users({5}, store.get_users)) == {5: StoredUser(5, "ana_r", "Ana R.")}
    assert store.asked == [("users", [5])]


def test_an_old_name_read_while_the_tail_wrote_the_new_one_does_not_replace_it():
    store = Store({}, {5: StoredUser(5, "ana", "Ana")})
    cache = HydrationCache(10, 10, following=lambda: True)
    store.while_reading = lambda: cache.on_record(renamed(5, "ana_r", "Ana R."))
    run(cache.users({5}, store.get_users))  # this page may still show the old name: it read it
    store.while_reading = lambda: None
    assert run(cache.users({5}, store.get_users)) == {5: StoredUser(5, "ana_r", "Ana R.")}


def test_each_part_keeps_at_most_its_limit_dropping_the_oldest_kept():
    store = Store({i: stored_post(i) for i in range(1, 4)}, {})
    cache = HydrationCache(2, 2, following=lambda: True)
    for post_id in (1, 2, 3):
        run(cache.posts([post_id], store.get_posts))
    store.asked.clear()
    run(cache.posts([1, 2, 3], store.get_posts))
    assert store.asked == [("posts", [1])]


def test_events_that_change_nothing_it_keeps_are_ignored():
    store = Store({1: stored_post(1)}, {})
    cache = HydrationCache(10, 10, following=lambda: True)
    run(cache.posts([1], store.get_posts))
    liked = post_pb2.PostEvent(post_liked=post_pb2.PostLiked(post_id=1, user_id=2))
    followed = graph_pb2.GraphEvent(user_followed=graph_pb2.UserFollowed(follower_id=2, followee_id=7))
    cache.on_record(record(liked))
    cache.on_record(record(followed))
    assert set(run(cache.posts([1], store.get_posts))) == {1} and len(store.asked) == 1


def test_a_mute_the_tail_saw_hides_before_the_store_has_it_and_an_unmute_shows_again_without_a_read():
    store = Store({}, {})
    store.mutes = {1: {4}}
    cache = HydrationCache(10, 10, following=lambda: True)
    cache.on_record(muted(1, 9))  # not projected yet
    assert run(cache.mutes(1, store.muted_ids)) == {4, 9}
    cache.on_record(muted(1, 4, is_muted=False))
    cache.on_record(muted(2, 9))  # someone else's
    assert run(cache.mutes(1, store.muted_ids)) == {9}
    assert store.asked == [("mutes", 1)]


def test_a_mute_the_tail_sees_while_the_store_is_read_counts_and_one_already_applied_is_not_undone():
    store = Store({}, {})
    store.mutes = {1: {4}}
    cache = HydrationCache(10, 10, following=lambda: True)
    cache.on_record(muted(1, 4))  # the store has applied it already
    store.while_reading = lambda: cache.on_record(muted(1, 9))
    assert run(cache.mutes(1, store.muted_ids)) == {4, 9}


def test_while_the_tail_is_not_following_the_store_alone_says_whom_a_reader_mutes():
    store = Store({}, {})
    store.mutes = {1: {4}}
    following = [True]
    cache = HydrationCache(10, 10, following=lambda: following[0])
    cache.on_record(muted(1, 4, is_muted=False))
    store.mutes = {1: {4}}  # muted again, which the tail has not seen: it stopped following
    following[0] = False
    assert run(cache.mutes(1, store.muted_ids)) == {4}
    assert run(cache.mutes(1, store.muted_ids)) == {4}
    assert store.asked == [("mutes", 1)] * 2
