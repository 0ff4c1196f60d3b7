"""What a page shows of each post and person, kept in the API process's memory so that a page reads only its
entries from Cassandra.

The log says what changed, so the cache learns it there (services/runtime/tail.py), not from a time to live:
- A post's body never changes; it can only be deleted. A PostDeleted drops the post and keeps its id among the
  deleted, so that no page shows it again, whether it comes from memory or from a store the projection has not
  updated yet.
- A person's handle and name change only by events that carry the new values (UserCreated, ProfileUpdated): the
  tail writes them in, and a value read from the store is kept only where the tail has written none, since the
  store may lag behind the log.
- A reader's mutes change only by UserMuted and UserUnmuted, which name both people. The tail keeps the last of
  them for each pair and lays them over whatever the store answered, so a mute the projection has not applied yet
  still hides, and one it applied is not undone; a kept set is changed by them directly.

Answers come from memory only while the tail is following (caught up, polling); otherwise from the store, as
without a cache. Each part holds at most its limit, dropping the oldest kept first.
"""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from chirp.timeline.v1 import timeline_pb2
from services.runtime.clock import timestamp_from_datetime
from services.runtime.envelopes import EVENT_TYPE_HEADER
from services.timeline.repository import StoredPost, StoredUser

# Deleted ids remembered: more than are deleted while a projection catches up with a deletion.
DELETED_REMEMBERED = 100_000

_POST_DELETED = post_pb2.PostDeleted.DESCRIPTOR.full_name.encode()
_MUTE_CHANGED = {
    graph_pb2.UserMuted.DESCRIPTOR.full_name.encode(),
    graph_pb2.UserUnmuted.DESCRIPTOR.full_name.encode(),
}
_PERSON_CHANGED = {
    graph_pb2.UserCreated.DESCRIPTOR.full_name.encode(),
    graph_pb2.ProfileUpdated.DESCRIPTOR.full_name.encode(),
}


@dataclass(frozen=True)
class CachedPost:
    stored: StoredPost
    # The post's own fields, built once: each page item is a copy with the reader's and the moment's fields set.
    body: timeline_pb2.TimelinePost


def post_body(post: StoredPost) -> timeline_pb2.TimelinePost:
    entities = post_pb2.Post.FromString(post.entities)
    return timeline_pb2.TimelinePost(
        post_id=post.post_id,
        author_id=post.author_id,
        text=post.text,
        create_time=timestamp_from_datetime(post.create_time),
        mentions=entities.mentions,
        hashtags=entities.hashtags,
        urls=entities.urls,
        cashtags=entities.cashtags,
        in_reply_to_post_id=post.in_reply_to_post_id,
        quoted_post_id=post.quoted_post_id,
    )


class _Bounded(dict):
    """A dict that drops its oldest entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key, value) -> None:
        self[key] = value
        while len(self) > self.limit:
            del self[next(iter(self))]


class HydrationCache:
    def __init__(self, max_posts: int, max_users: int, following: Callable[[], bool]) -> None:
        self._posts: _Bounded = _Bounded(max_posts)
        self._users: _Bounded = _Bounded(max_users)
        self._deleted: _Bounded = _Bounded(DELETED_REMEMBERED)
        # Reader -> the ids they mute; reader -> muted id -> muted (True) or unmuted, the last the tail saw.
        self._mutes: _Bounded = _Bounded(max_users)
        self._mute_changes: _Bounded = _Bounded(max_users)
        self._following = following

    async def posts(
        self, post_ids: Iterable[int], read: Callable[[list[int]], Awaitable[dict[int, StoredPost]]]
    ) -> dict[int, CachedPost]:
        """The live posts among `post_ids`; `read` fetches from the store those memory cannot answer."""
        wanted = [post_id for post_id in dict.fromkeys(post_ids) if post_id not in self._deleted]
        found = {p: self._posts[p] for p in wanted if p in self._posts} if self._following() else {}
        missing = [post_id for post_id in wanted if post_id not in found]
        if missing:
            for post_id, stored in (await read(missing)).items():
                if post_id not in self._deleted:  # deleted while it was read
                    found[post_id] = CachedPost(stored, post_body(stored))
                    self._posts.keep(post_id, found[post_id])
        return found

    async def users(
        self, user_ids: Iterable[int], read: Callable[[set[int]], Awaitable[dict[int, StoredUser]]]
    ) -> dict[int, StoredUser]:
        """The known users among `user_ids`; `read` fetches from the store those memory cannot answer."""
        wanted = set(user_ids)
        found = {u: self._users[u] for u in wanted if u in self._users} if self._following() else {}
        missing = wanted - found.keys()
        if missing:
            for user_id, stored in (await read(missing)).items():
                found[user_id] = stored
                if user_id not in self._users:  # what the tail wrote is newer than any store
                    self._users.keep(user_id, stored)
        return found

    async def mutes(self, reader: int, read: Callable[[int], Awaitable[set[int]]]) -> set[int]:
        """Whom `reader` mutes; `read` asks the store when memory cannot answer. While the tail is not following,
        what it saw may be older than the store: the store alone answers, and nothing is kept."""
        if not self._following():
            return set(await read(reader))
        muted = self._mutes.get(reader)
        if muted is None:
            muted = set(await read(reader))
            # Including what the tail saw during the read.
            for other, is_muted in self._mute_changes.get(reader, {}).items():
                (muted.add if is_muted else muted.discard)(other)
            self._mutes.keep(reader, muted)
        return set(muted)

    def on_record(self, record: ConsumerRecord) -> None:
        """Learn from an event of the post or graph topic (the tail calls this for each, in order per partition)."""
        kind = dict(record.headers).get(EVENT_TYPE_HEADER)
        if kind == _POST_DELETED:
            deleted = post_pb2.PostEvent.FromString(record.value).post_deleted.post_id
            self._posts.pop(deleted, None)
            self._deleted.keep(deleted, None)
        elif kind in _MUTE_CHANGED:
            event = graph_pb2.GraphEvent.FromString(record.value)
            is_muted = event.WhichOneof("payload") == "user_muted"
            change = event.user_muted if is_muted else event.user_unmuted
            changes = self._mute_changes.get(change.muter_id)
            if changes is None:
                changes = {}
                self._mute_changes.keep(change.muter_id, changes)
            changes[change.muted_id] = is_muted
            kept = self._mutes.get(change.muter_id)
            if kept is not None:
                (kept.add if is_muted else kept.discard)(change.muted_id)
        elif kind in _PERSON_CHANGED:
            event = graph_pb2.GraphEvent.FromString(record.value)
            user = getattr(event, event.WhichOneof("payload")).user
            self._users.pop(user.user_id, None)  # kept again as the newest
            self._users.keep(user.user_id, StoredUser(user.user_id, user.handle, user.display_name))
