"""Where a post becomes a home-timeline row: the timeline projection of the post and graph topics.

Every write is keyed by what the event is about ((reader, post), (user, follower), ...) and carries the event's
time as its Cassandra write time, so applying an event twice, or replaying the topics, leaves the same rows.
"""

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence

from prometheus_client import Histogram

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.clock import micros_of
from services.runtime.ids import timestamp_ms_of
from services.runtime.projection.records import Record, envelope_of
from services.timeline.domain import (
    BACKFILL_POSTS,
    HOME_TIMELINE_CAP,
    HomeEntry,
    Provenance,
    fans_out,
    home_recipients,
    post_entry,
    repost_position,
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

FAN_OUT_SIZE = Histogram(
    "chirp_timeline_fan_out_size",
    "Home timelines one post was written into: its author's, and its followers' unless the author is held back.",
    buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000),
)


class TimelineProjection:
    def __init__(
        self,
        repo: TimelineRepository,
        readers: ReaderState,
        post_topic: str,
        graph_topic: str,
        fanout_threshold: int,
        *,
        count_once_replayed: bool = False,
    ) -> None:
        """`count_once_replayed`: a rebuild's replay, which counts every post's edges once at its end (`replayed`)
        instead of the posts each batch changed: a replay changes the same posts in batch after batch."""
        self._repo = repo
        self._count_each_batch = not count_once_replayed
        self._readers = readers
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}
        self._default_threshold = fanout_threshold
        self._threshold = fanout_threshold
        self._threshold_read_at = float("-inf")
        self._threshold_refresh = asyncio.Lock()

    async def _fanout_threshold(self) -> int:
        """The threshold, read again once it is older than THRESHOLD_REFRESH_SECONDS: by one of the batch's events
        while the others wait for it, not by all of them at once."""
        if self._threshold_is_stale():
            async with self._threshold_refresh:
                if self._threshold_is_stale():
                    self._threshold = await self._readers.fanout_threshold() or self._default_threshold
                    self._threshold_read_at = time.monotonic()
        return self._threshold

    def _threshold_is_stale(self) -> bool:
        return time.monotonic() - self._threshold_read_at > THRESHOLD_REFRESH_SECONDS

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
        whichever is applied first. The posts whose edges changed are counted again once, after the batch."""
        changed = await asyncio.gather(*(self._on_post_event(record, event) for record, event in events))
        if self._count_each_batch:
            await self._repo.recount(set().union(*changed))

    async def replayed(self) -> None:
        """The end of a rebuild's replay: the counts it left for now. All of them, not only this run's: a rebuild
        that was interrupted and resumed replayed part of the log in an earlier run."""
        if not self._count_each_batch:
            await self._repo.recount_all()

    async def _on_post_event(self, record: Record, event: post_pb2.PostEvent) -> set[int]:
        """Apply one post event; the posts whose edges (likes, reposts, replies, quotes) it changed."""
        kind = event.WhichOneof("payload")
        at = micros_of(event.occurred_at)
        if kind in _USER_EDGES:
            # A like or a repost, or taking one back: one row of the post's counts.
            edge_kind, added = _USER_EDGES[kind]
            change = getattr(event, kind)
            edit = self._repo.add_edge if added else self._repo.remove_edge
            await edit(change.post_id, edge_kind, change.user_id, at)
        if kind == "post_created":
            return await self._on_post_created(record, event)
        if kind == "post_reposted":
            await self._on_reposted(record, event)
        elif kind == "repost_undone":
            await self._on_repost_undone(event)
        elif kind == "post_deleted":
            return await self._on_post_deleted(event)
        return {getattr(event, kind).post_id} if kind in _USER_EDGES else set()

    async def _on_post_deleted(self, event: post_pb2.PostEvent) -> set[int]:
        """Timelines are hydrated from `posts`: without the row the post shows nowhere. A deleted reply or quote no
        longer counts for the post it answered or quoted (returned: their counts change)."""
        deleted, at = event.post_deleted.post_id, micros_of(event.occurred_at)
        gone = (await self._repo.get_posts([deleted])).get(deleted)
        parents = set()
        if gone is not None:
            for kind, parent in (("reply", gone.in_reply_to_post_id), ("quote", gone.quoted_post_id)):
                if parent:
                    await self._repo.remove_edge(parent, kind, deleted, at)
                    parents.add(parent)
        await self._repo.forget_post(deleted, at)
        return parents

    async def _on_reposted(self, record: Record, event: post_pb2.PostEvent) -> None:
        """A repost is an entry of its own, at the time of the repost, in the reposter's readers' home timelines (or
        held back, like a post, when the reposter has more followers than the threshold). Older entries of the post
        stay: reads show a post once, at its newest entry, so an undo only has to take its own entry away."""
        repost, at = event.post_reposted, micros_of(event.occurred_at)
        position = repost_position(repost.repost_id, event.occurred_at.ToMilliseconds(), repost.user_id)
        entry = HomeEntry(position, repost.post_id, reposted_by=repost.user_id, author_id=repost.author_id)
        # Recorded before the readers are read, as a post's user timeline is: a reader who follows or comes back
        # meanwhile finds it there.
        await self._repo.record_repost(repost.user_id, entry, at)
        readers = await self._readers_of(repost.user_id, entry, at)
        await self._repo.add_repost_to_homes(readers, entry, at, Provenance.of(record))

    async def _on_repost_undone(self, event: post_pb2.PostEvent) -> None:
        undone, at = event.repost_undone, micros_of(event.occurred_at)
        position = undone.repost_id or await self._repo.repost_position(undone.user_id, undone.post_id)
        if position is None:
            return  # a repost from before reposts had ids, whose position was never recorded: nothing placed it
        entry = HomeEntry(position, undone.post_id, reposted_by=undone.user_id, author_id=undone.author_id)
        await self._repo.forget_repost(undone.user_id, entry, at)
        readers = home_recipients(undone.user_id, await self._repo.follower_ids(undone.user_id))
        await self._repo.remove_repost_from_homes(readers, entry, at)

    async def _readers_of(self, author_id: int, entry: HomeEntry, at: int) -> list[int]:
        """The followers an author's new entry (post or repost) is copied to now: every active follower, or none
        when the author has more followers than the threshold (then the entry is held back, merged in at read
        time). Decided once per entry and recorded, so a later threshold neither loses nor doubles it."""
        threshold = await self._fanout_threshold()
        followers = await self._repo.follower_ids(author_id, limit=threshold + 1)
        if not fans_out(len(followers), threshold):
            await self._repo.hold_back(author_id, entry, at)
            return []
        # Read after the author's entry was recorded, like the followers: a reader who comes back meanwhile is
        # either fanned out to here or finds the entry there when their timeline is rebuilt.
        inactive = await self._readers.inactive_follower_ids(author_id)
        return [f for f in followers if f not in inactive]

    async def _on_post_created(self, record: Record, event: post_pb2.PostEvent) -> set[int]:
        """Store the post and fan it out; the posts it answers or quotes (their counts change)."""
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
        parents = set()
        for kind, parent in (("reply", post.in_reply_to_post_id), ("quote", post.quoted_post_id)):
            if parent:
                await self._repo.add_edge(parent, kind, post.post_id, at)
                parents.add(parent)
        followers = await self._readers_of(post.author_id, post_entry(post.post_id, post.author_id), at)
        followers_of_replied_to = (
            frozenset(await self._repo.follower_ids(replied_to)) if replied_to and followers else frozenset()
        )
        recipients = home_recipients(post.author_id, followers, replied_to, followers_of_replied_to)
        FAN_OUT_SIZE.observe(len(recipients))
        await self._repo.add_to_homes(recipients, post_entry(post.post_id, post.author_id), at, Provenance.of(record))
        if trims_home_timelines(post.post_id):
            await asyncio.gather(*(self._repo.trim_home(reader, HOME_TIMELINE_CAP, at) for reader in recipients))
        return parents

    async def _reaching(self, reader: int, entries: list[HomeEntry]) -> list[HomeEntry]:
        """What a new follower gets of the followee's recent entries, newest first: their posts still there,
        replies only to accounts the follower also follows, and their reposts (a repost reaches every follower, as
        its fan-out does)."""
        own = [entry.post_id for entry in entries if not entry.reposted_by]
        reaching = await reaching_posts(self._repo, reader, await self._repo.get_posts(own))
        return [entry for entry in entries if entry.reposted_by or entry.post_id in reaching]

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
            recent = await self._repo.recent_entries(follow.followee_id, BACKFILL_POSTS)
            reaching = await self._reaching(follow.follower_id, recent)
            await self._repo.add_entries_to_home(follow.follower_id, reaching, at, Provenance.of(record))
        elif kind == "user_muted":
            await self._repo.add_mute(event.user_muted.muter_id, event.user_muted.muted_id, at)
        elif kind == "user_unmuted":
            await self._repo.remove_mute(event.user_unmuted.muter_id, event.user_unmuted.muted_id, at)
        elif kind == "user_unfollowed":
            unfollow = event.user_unfollowed
            await self._repo.remove_follower(unfollow.followee_id, unfollow.follower_id, at)
            recent = await self._repo.recent_entries(unfollow.followee_id, BACKFILL_POSTS)
            await asyncio.gather(
                *(
                    self._repo.remove_entry_from_home(
                        unfollow.follower_id,
                        entry,
                        unfollow_removal_time(at, entry.position, timestamp_ms_of(entry.position) * 1000),
                    )
                    for entry in recent
                )
            )
