"""Where a post becomes a home-timeline row: the timeline projection of the post and graph topics.

Every write is keyed by what the event is about ((reader, post), (user, follower), ...) and carries the event's
time as its Cassandra write time, so applying an event twice, or replaying the topics, leaves the same rows.
"""

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.clock import micros_of
from services.runtime.ids import timestamp_ms_of
from services.runtime.projection.records import Record, envelope_of
from services.timeline.domain import (
    BACKFILL_POSTS,
    HOME_TIMELINE_CAP,
    Provenance,
    after_repost_undone,
    fans_out,
    home_recipients,
    trims_home_timelines,
    unfollow_removal_time,
)
from services.timeline.reach import reaching_posts
from services.timeline.reader_state import ReaderState
from services.timeline.repository import StoredPost, StoredUser, TimelineRepository

# Post events that add or remove a (post, user) row of `post_edges`: event kind -> (edge kind, added).
_USER_EDGES = {
    "post_liked": ("like", True),
    "post_unliked": ("like", False),
    "post_reposted": ("repost", True),
    "repost_undone": ("repost", False),
}


# How stale a worker's idea of the fan-out threshold may be after `chirp timeline fanout-threshold` changed it.
THRESHOLD_REFRESH_SECONDS = 1.0


class TimelineProjection:
    def __init__(
        self, repo: TimelineRepository, readers: ReaderState, post_topic: str, graph_topic: str, fanout_threshold: int
    ) -> None:
        self._repo = repo
        self._readers = readers
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}
        self._default_threshold = fanout_threshold
        self._threshold = fanout_threshold
        self._threshold_read_at = float("-inf")

    async def _fanout_threshold(self) -> int:
        if time.monotonic() - self._threshold_read_at > THRESHOLD_REFRESH_SECONDS:
            self._threshold = await self._readers.fanout_threshold() or self._default_threshold
            self._threshold_read_at = time.monotonic()
        return self._threshold

    async def apply(self, records: Sequence[Record]) -> None:
        """Apply a batch concurrently, keeping in order only what must be: the graph events of one key (one acting
        user). Post events commute, and a post and a graph event, or graph events of two users, may be on different
        partitions anyway, so every handler is already written to be right in either order (write times, and the
        edge-then-backfill / timeline-then-followers orders in the handlers)."""
        posts: list[tuple[Record, post_pb2.PostEvent]] = []
        graph_by_user: dict[bytes | None, list[tuple[Record, graph_pb2.GraphEvent]]] = defaultdict(list)
        for record in records:
            event = envelope_of(record, self._envelopes)
            if isinstance(event, post_pb2.PostEvent):
                posts.append((record, event))
            else:
                graph_by_user[record.key].append((record, event))

        async def in_order(events: list[tuple[Record, graph_pb2.GraphEvent]]) -> None:
            for record, event in events:
                await self._on_graph_event(record, event)

        await asyncio.gather(self._fan_out(posts), *(in_order(events) for events in graph_by_user.values()))

    async def _fan_out(self, events: list[tuple[Record, post_pb2.PostEvent]]) -> None:
        """Post events commute: each write carries its event's time, so a deletion wins over its post's creation
        whichever is applied first."""
        await asyncio.gather(*(self._on_post_event(record, event) for record, event in events))

    async def _on_post_event(self, record: Record, event: post_pb2.PostEvent) -> None:
        kind = event.WhichOneof("payload")
        at = micros_of(event.occurred_at)
        if kind in _USER_EDGES:
            # A like or a repost, or taking one back: one row of the post's counts.
            edge_kind, added = _USER_EDGES[kind]
            change = getattr(event, kind)
            edit = self._repo.add_edge if added else self._repo.remove_edge
            await edit(change.post_id, edge_kind, change.user_id, at)
        if kind == "post_created":
            await self._on_post_created(record, event)
        elif kind == "post_reposted":
            repost = event.post_reposted
            readers = home_recipients(repost.user_id, await self._repo.follower_ids(repost.user_id))
            await self._repo.add_repost_to_homes(
                readers, repost.post_id, repost.author_id, repost.user_id, at, Provenance.of(record)
            )
        elif kind == "repost_undone":
            await self._on_repost_undone(record, event)
        elif kind == "post_deleted":
            await self._on_post_deleted(event)

    async def _on_post_deleted(self, event: post_pb2.PostEvent) -> None:
        """Timelines are hydrated from `posts`: without the row the post shows nowhere. A deleted reply or quote no
        longer counts for the post it answered or quoted."""
        deleted, at = event.post_deleted.post_id, micros_of(event.occurred_at)
        gone = (await self._repo.get_posts([deleted])).get(deleted)
        if gone is not None:
            for kind, parent in (("reply", gone.in_reply_to_post_id), ("quote", gone.quoted_post_id)):
                if parent:
                    await self._repo.remove_edge(parent, kind, deleted, at)
        await self._repo.forget_post(deleted, at)

    async def _on_repost_undone(self, record: Record, event: post_pb2.PostEvent) -> None:
        undone = event.repost_undone
        at = micros_of(event.occurred_at)

        async def leave(reader: int) -> None:
            await self._repo.remove_repost(reader, undone.post_id, undone.user_id, at)
            others = [r for r in await self._repo.reposters_in_home(reader, undone.post_id) if r != undone.user_id]
            follows = await self._repo.follows(reader, undone.author_id)
            outcome = after_repost_undone(reader, undone.author_id, others, follows)
            if outcome == "gone":
                await self._repo.remove_posts_from_home(reader, [undone.post_id], at)
            else:
                reposted_by = others[0] if outcome == "reposted" else None
                await self._repo.set_home_entry(
                    reader, undone.post_id, undone.author_id, reposted_by, at, Provenance.of(record)
                )

        readers = home_recipients(undone.user_id, await self._repo.follower_ids(undone.user_id))
        await asyncio.gather(*(leave(reader) for reader in readers))

    async def _on_post_created(self, record: Record, event: post_pb2.PostEvent) -> None:
        post = event.post_created.post
        at = micros_of(event.occurred_at)
        # Write the author's timeline before reading the followers: a follow applied concurrently elsewhere
        # either is among the followers read here or will find this post when it backfills.
        replied_to = post.in_reply_to_user_id
        entities = post_pb2.Post(mentions=post.mentions, hashtags=post.hashtags, urls=post.urls, cashtags=post.cashtags)
        stored = StoredPost(
            post.post_id,
            post.author_id,
            post.text,
            post.create_time.ToDatetime(),
            replied_to,
            post.in_reply_to_post_id,
            post.quoted_post_id,
            entities.SerializeToString(),
        )
        await self._repo.save_post(stored, at)
        for kind, parent in (("reply", post.in_reply_to_post_id), ("quote", post.quoted_post_id)):
            if parent:
                await self._repo.add_edge(parent, kind, post.post_id, at)
        threshold = await self._fanout_threshold()
        followers = await self._repo.follower_ids(post.author_id, limit=threshold + 1)
        if fans_out(len(followers), threshold):
            # Read after the author's timeline was written, like the followers: a reader who comes back meanwhile
            # is either fanned out to here or finds the post in that timeline when theirs is rebuilt.
            inactive = await self._readers.inactive_follower_ids(post.author_id)
            followers = [f for f in followers if f not in inactive]
        else:
            # Decided once per post and recorded, so a later threshold neither loses nor doubles it.
            await self._repo.hold_back(post.author_id, post.post_id, at)
            followers = []
        followers_of_replied_to = (
            frozenset(await self._repo.follower_ids(replied_to)) if replied_to and followers else frozenset()
        )
        recipients = home_recipients(post.author_id, followers, replied_to, followers_of_replied_to)
        await self._repo.add_to_homes(recipients, post.post_id, post.author_id, at, Provenance.of(record))
        if trims_home_timelines(post.post_id):
            await asyncio.gather(*(self._repo.trim_home(reader, HOME_TIMELINE_CAP, at) for reader in recipients))

    async def _reaching(self, reader: int, post_ids: list[int]) -> list[int]:
        """The posts a new follower gets, newest first: those still there, and replies only to accounts the
        follower also follows."""
        reaching = await reaching_posts(self._repo, reader, await self._repo.get_posts(post_ids))
        return [pid for pid in post_ids if pid in reaching]

    async def _on_graph_event(self, record: Record, event: graph_pb2.GraphEvent) -> None:
        at = micros_of(event.occurred_at)
        kind = event.WhichOneof("payload")
        if kind in ("user_created", "profile_updated"):
            user = getattr(event, kind).user
            await self._repo.save_user(StoredUser(user.user_id, user.handle, user.display_name), at)
        elif kind == "user_followed":
            follow = event.user_followed
            # Edge first, then backfill: the mirror image of _on_post_created's order.
            await self._repo.add_follower(follow.followee_id, follow.follower_id, at)
            recent = await self._repo.recent_post_ids(follow.followee_id, BACKFILL_POSTS)
            reaching = await self._reaching(follow.follower_id, recent)
            await self._repo.add_posts_to_home(
                follow.follower_id, reaching, follow.followee_id, at, Provenance.of(record)
            )
        elif kind == "user_muted":
            await self._repo.add_mute(event.user_muted.muter_id, event.user_muted.muted_id, at)
        elif kind == "user_unmuted":
            await self._repo.remove_mute(event.user_unmuted.muter_id, event.user_unmuted.muted_id, at)
        elif kind == "user_unfollowed":
            unfollow = event.user_unfollowed
            await self._repo.remove_follower(unfollow.followee_id, unfollow.follower_id, at)
            recent = await self._repo.recent_post_ids(unfollow.followee_id, BACKFILL_POSTS)
            await asyncio.gather(
                *(
                    self._repo.remove_posts_from_home(
                        unfollow.follower_id, [pid], unfollow_removal_time(at, pid, timestamp_ms_of(pid) * 1000)
                    )
                    for pid in recent
                )
            )
