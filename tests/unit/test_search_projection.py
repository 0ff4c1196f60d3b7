"""The search projection on an in-memory stand-in for its Cassandra tables and a real tantivy index: what each
event does to the index, re-deliveries, deletions winning over late creations, and opting out and back in."""

import itertools

from google.protobuf.timestamp_pb2 import Timestamp

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.projection.records import Record
from services.search.backends import PostSearch
from services.search.backends.tantivy_backend import TantivyBackend
from services.search.domain import parse
from services.search.projection import SearchProjection

POSTS, GRAPH = "posts", "graph"
_clock = itertools.count(1_780_000_000_000_000, 1000)


class MemoryRepository:
    """SearchRepository's methods, over dicts, last write by event time wins."""

    def __init__(self) -> None:
        self.users, self.posts, self.tombstones, self.follows, self.relations = {}, {}, set(), {}, {}

    async def save_person(self, person, at):
        self.users[person.user_id] = person

    async def person(self, user_id):
        return self.users.get(user_id)

    async def people(self, user_ids):
        return {u: self.users[u] for u in user_ids if u in self.users}

    async def set_follow(self, follower_id, followee_id, active, at):
        self.follows[(follower_id, followee_id)] = active

    async def follower_count(self, user_id):
        return sum(1 for (_, followee), on in self.follows.items() if on and followee == user_id)

    async def save_follower_count(self, user_id, count):
        pass

    async def set_relation(self, user_id, kind, other_id, active, at):
        self.relations[(user_id, kind, other_id)] = active

    async def save_post(self, post, at):
        if post.post_id not in self.tombstones:
            self.posts[post.post_id] = post

    async def delete_post(self, author_id, post_id, at):
        self.tombstones.add(post_id)
        self.posts.pop(post_id, None)

    async def deleted(self, post_ids):
        return {p for p in post_ids if p in self.tombstones}

    async def posts_of(self, author_id, before=None):
        found = sorted((p for p in self.posts.values() if p.author_id == author_id), key=lambda p: -p.post_id)
        return [p for p in found if before is None or p.post_id < before][:500]


def record(topic, envelope) -> Record:
    return Record(topic, 0, 0, None, envelope.SerializeToString())


def at() -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(next(_clock))
    return stamp


def user(user_id, handle, indexable=None, created=True):
    profile = graph_pb2.User(user_id=user_id, handle=handle, display_name=handle.title(), create_time=at())
    if indexable is not None:
        profile.indexable = indexable
    if created:
        return record(
            GRAPH, graph_pb2.GraphEvent(event_id=f"u{user_id}", occurred_at=at(), user_created={"user": profile})
        )
    return record(
        GRAPH,
        graph_pb2.GraphEvent(event_id=f"p{user_id}{indexable}", occurred_at=at(), profile_updated={"user": profile}),
    )


def created(post_id, author_id, text):
    post = post_pb2.Post(post_id=post_id, author_id=author_id, text=text, create_time=at())
    return record(POSTS, post_pb2.PostEvent(event_id=f"c{post_id}", occurred_at=at(), post_created={"post": post}))


def deleted(post_id, author_id):
    return record(
        POSTS,
        post_pb2.PostEvent(
            event_id=f"d{post_id}", occurred_at=at(), post_deleted={"post_id": post_id, "author_id": author_id}
        ),
    )


async def found(backend, query):
    hits = await backend.search_posts(PostSearch(parse(query), limit=50))
    return sorted(hit.post_id for hit in hits.hits)


async def test_events_in_any_batches_give_the_same_index(tmp_path):
    backend = TantivyBackend(str(tmp_path))
    await backend.open()
    projection = SearchProjection(MemoryRepository(), backend, POSTS, GRAPH)
    # A post before its author's account (another topic), then the account: the post gets its handle.
    await projection.apply([created(1, 10, "owls at night")])
    await projection.apply([user(10, "ada"), created(2, 10, "owls by day"), created(3, 10, "more owls")])
    assert await found(backend, "from:ada owl") == [1, 2, 3]
    # A deletion, then the creation delivered again: the deletion wins.
    await projection.apply([deleted(2, 10)])
    await projection.apply([created(2, 10, "owls by day")])
    assert await found(backend, "owl") == [1, 3]
    # Opting out empties the index of the author, keeps new posts out; opting back in brings the live ones back.
    await projection.apply([user(10, "ada", indexable=False, created=False), created(4, 10, "owls again")])
    assert await found(backend, "owl") == []
    await projection.apply([created(5, 10, "owls once more")])
    assert await found(backend, "owl") == []
    await projection.apply([user(10, "ada", indexable=True, created=False)])
    assert await found(backend, "owl") == [1, 3, 4, 5]
    # The same batch again changes nothing.
    batch = [created(6, 10, "last owl"), deleted(6, 10)]
    await projection.apply(batch)
    await projection.apply(batch)
    assert await found(backend, "owl") == [1, 3, 4, 5]
    await backend.close()
