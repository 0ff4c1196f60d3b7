"""Where a post becomes a home-timeline row: the timeline projection of the post and graph topics.

Every write is keyed by what the event is about ((reader, post), (user, follower), ...) and carries the event's
time as its Cassandra write time, so applying an event twice, or replaying the topics, leaves the same rows.
"""

import asyncio
from collections.abc import Sequence

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.events import micros_of
from services.runtime.projection import Record, decode
from services.timeline.domain import BACKFILL_POSTS, home_recipients
from services.timeline.repository import StoredPost, StoredUser, TimelineRepository


class TimelineProjection:
    def __init__(self, repo: TimelineRepository, post_topic: str, graph_topic: str) -> None:
        self._repo = repo
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}

    async def apply(self, records: Sequence[Record]) -> None:
        """Apply in order, except that consecutive posts (independent of each other) fan out concurrently."""
        posts: list[post_pb2.PostEvent] = []
        for record in records:
            event = decode(record, self._envelopes)
            if isinstance(event, post_pb2.PostEvent):
                posts.append(event)
                continue
            await self._fan_out(posts)
            posts = []
            if isinstance(event, graph_pb2.GraphEvent):
                await self._on_graph_event(event)
        await self._fan_out(posts)

    async def _fan_out(self, events: list[post_pb2.PostEvent]) -> None:
        """Post events commute: each write carries its event's time, so a deletion wins over its post's creation
        whichever is applied first."""
        await asyncio.gather(*(self._on_post_event(e) for e in events))

    async def _on_post_event(self, event: post_pb2.PostEvent) -> None:
        kind = event.WhichOneof("payload")
        if kind == "post_created":
            await self._on_post_created(event)
        elif kind == "post_deleted":
            # Timelines are hydrated from `posts`: without the row the post shows nowhere.
            await self._repo.forget_post(event.post_deleted.post_id, micros_of(event.occurred_at))

    async def _on_post_created(self, event: post_pb2.PostEvent) -> None:
        post = event.post_created.post
        at = micros_of(event.occurred_at)
        # Write the author's timeline before reading the followers: a follow applied concurrently elsewhere
        # either is among the followers read here or will find this post when it backfills.
        await self._repo.save_post(StoredPost(post.post_id, post.author_id, post.text, post.create_time.ToDatetime()), at)
        followers = await self._repo.follower_ids(post.author_id)
        await self._repo.add_to_homes(home_recipients(post.author_id, followers), post.post_id, post.author_id, at)

    async def _on_graph_event(self, event: graph_pb2.GraphEvent) -> None:
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
            await self._repo.add_posts_to_home(follow.follower_id, recent, follow.followee_id, at)
        elif kind == "user_unfollowed":
            unfollow = event.user_unfollowed
            await self._repo.remove_follower(unfollow.followee_id, unfollow.follower_id, at)
            recent = await self._repo.recent_post_ids(unfollow.followee_id, BACKFILL_POSTS)
            await self._repo.remove_posts_from_home(unfollow.follower_id, recent, at)
