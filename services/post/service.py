"""Use cases of the post service. Each checks everything before it writes or publishes anything."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

import structlog

from chirp.post.v1 import post_pb2
from services.graph.client import GraphClient
from services.post import events
from services.post.domain import MAX_THREAD_DEPTH, PostingRules, Reacted, Reaction
from services.post.rate_window import RateWindow
from services.post.repository import PostRepository
from services.runtime.clock import datetime_from_ms, timestamp_from_ms, utc_now
from services.runtime.errors import NotFound, PermissionDenied, Unavailable
from services.runtime.ids import SnowflakeIds, timestamp_ms_of
from services.runtime.kafka import EventPublisher
from services.text import Analysis, validate_post

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Thread:
    ancestors: list[post_pb2.Post]  # root first
    # The conversation goes further up than `ancestors`: only the MAX_THREAD_DEPTH nearest are given.
    ancestors_truncated: bool
    post: post_pb2.Post
    replies: list[post_pb2.Post]  # a page of direct replies, oldest first
    last_reply_id: int | None  # where the next page starts; None when this is the last one


class PostService:
    def __init__(
        self,
        repo: PostRepository,
        graph: GraphClient,
        publisher: EventPublisher,
        ids: SnowflakeIds,
        topic: str,
        rules: PostingRules,
    ) -> None:
        self._repo = repo
        self._graph = graph
        self._publisher = publisher
        self._ids = ids
        self._topic = topic
        self._rules = rules
        self._rate = RateWindow(rules.rate_limit, rules.rate_window_seconds, repo.count_since)

    async def create_post(self, author_id: int, text: str, in_reply_to: int = 0, quoted: int = 0) -> post_pb2.Post:
        """Validate, store, publish PostCreated keyed by author, and answer only once Kafka has it."""
        analysis = validate_post(text, self._rules.profile)
        await self._require_user(author_id, "AUTHOR_NOT_FOUND", "to post as")
        parent = await self._live_post(in_reply_to, "the post you reply to") if in_reply_to else None
        if quoted:
            await self._live_post(quoted, "the post you quote")
        async with self._rate.post(author_id):
            post = await self._new_post(author_id, analysis, parent, quoted)
            await self._store_and_publish(post)
        post.stats.CopyFrom(post_pb2.PostStats())
        return post

    async def _store_and_publish(self, post: post_pb2.Post) -> None:
        """The rows and the event at once, so a post waits for one round trip, not two in a row. Either failing
        takes the other back: rows without their event are deleted (not in the log means not posted), and an event
        whose rows cannot be written is followed by its PostDeleted, so consumers take it back too. The caller hears
        UNAVAILABLE either way and may retry."""
        stored, published = await asyncio.gather(
            self._repo.save(post),
            self._publisher.publish(self._topic, post.author_id, events.post_created(post)),
            return_exceptions=True,
        )
        if isinstance(published, BaseException):
            log.warning("post.publish_failed", post_id=post.post_id, error=repr(published))
            if not isinstance(stored, BaseException):
                await self._repo.forget(post)
            raise Unavailable(
                "EVENT_LOG_UNAVAILABLE", "the post could not be recorded; nothing was published, try again"
            ) from published
        if isinstance(stored, BaseException):
            log.warning("post.store_failed", post_id=post.post_id, error=repr(stored))
            await self._publisher.publish(self._topic, post.author_id, events.post_deleted(post, utc_now()))
            raise Unavailable(
                "POST_STORE_UNAVAILABLE", "the post could not be stored; it was taken back, try again"
            ) from stored

    async def _new_post(
        self, author_id: int, analysis: Analysis, parent: post_pb2.Post | None, quoted: int
    ) -> post_pb2.Post:
        """The post to store: a new id, the text's entities with the users its mentions name."""
        handles = list(dict.fromkeys(m.value.lower() for m in analysis.mentions))
        resolved = await self._graph.resolve_handles(handles) if handles else {}
        post_id = self._ids.next_id()
        return post_pb2.Post(
            post_id=post_id,
            author_id=author_id,
            text=analysis.text,
            create_time=timestamp_from_ms(timestamp_ms_of(post_id)),
            mentions=[
                post_pb2.Mention(user_id=resolved.get(m.value.lower(), 0), handle=m.value, start=m.start, end=m.end)
                for m in analysis.mentions
            ],
            hashtags=[post_pb2.TextEntity(value=e.value, start=e.start, end=e.end) for e in analysis.hashtags],
            urls=[post_pb2.TextEntity(value=e.value, start=e.start, end=e.end) for e in analysis.urls],
            cashtags=[post_pb2.TextEntity(value=e.value, start=e.start, end=e.end) for e in analysis.cashtags],
            in_reply_to_post_id=parent.post_id if parent else 0,
            in_reply_to_user_id=parent.author_id if parent else 0,
            conversation_id=parent.conversation_id if parent else post_id,
            quoted_post_id=quoted,
        )

    async def get_post(self, post_id: int) -> post_pb2.Post:
        post = await self._live_post(post_id, "the post")
        post.stats.CopyFrom(await self._repo.stats(post_id))
        return post

    async def delete_post(self, post_id: int, user_id: int) -> None:
        """Publish PostDeleted, then hide the post: a crash in between leaves it live for the retry to delete."""
        post = await self._live_post(post_id, "the post to delete")
        if post.author_id != user_id:
            raise PermissionDenied("NOT_AUTHOR", "only the author of a post can delete it", post_id=str(post_id))
        now = utc_now()
        await self._publisher.publish(self._topic, post.author_id, events.post_deleted(post, now))
        await self._repo.mark_deleted(post_id, now)

    async def get_thread(self, post_id: int, after: int, limit: int) -> Thread:
        """The post's ancestors (the MAX_THREAD_DEPTH nearest, root first), the post and a page of direct replies."""
        post = await self.get_post(post_id)
        ancestors: list[post_pb2.Post] = []
        parent_id = post.in_reply_to_post_id
        truncated = False
        while parent_id:
            ancestor = await self._repo.get(parent_id)
            if ancestor is None:
                break  # a deleted ancestor ends the visible chain
            if len(ancestors) == MAX_THREAD_DEPTH:
                truncated = True  # there is a visible post above the ones returned
                break
            ancestors.append(ancestor)
            parent_id = ancestor.in_reply_to_post_id
        ids = await self._repo.reply_ids(post_id, after, limit + 1)
        more = len(ids) > limit
        replies = [r for r in await asyncio.gather(*(self._repo.get(i) for i in ids[:limit])) if r is not None]
        return Thread(ancestors[::-1], truncated, post, replies, ids[limit - 1] if more else None)

    async def reactors(self, reaction: Reaction, post_id: int, after: int, limit: int) -> tuple[list[int], int | None]:
        """One page of who liked or reposted a live post, and the position to continue from (None at the end)."""
        await self._live_post(post_id, "the post")
        ids = await self._repo.reactors(reaction, post_id, after, limit + 1)
        return ids[:limit], (ids[limit - 1] if len(ids) > limit else None)

    async def react(self, reaction: Reaction, post_id: int, user_id: int, add: bool) -> Reacted | None:
        """Like/unlike or repost/undo: idempotent. A repeated like publishes the same event again (same id) so a
        retry after a crash between write and publication still reaches consumers; an undo publishes first. A
        repost gets an id of its own, taken when it is made. Returns the reaction (None after an undo)."""
        post = await self._live_post(post_id, "the post")
        await self._require_user(user_id, "USER_NOT_FOUND", "")
        reacted = await self._repo.reaction(reaction, post_id, user_id)
        if add:
            if reacted is None:
                reacted = self._new_reaction(reaction)
                await self._repo.add_reaction(reaction, post_id, user_id, reacted)
            await self._publisher.publish(
                self._topic, post.author_id, events.reaction(reaction, True, post, user_id, reacted, reacted.at)
            )
            return reacted
        if reacted is not None:
            await self._publisher.publish(
                self._topic, post.author_id, events.reaction(reaction, False, post, user_id, reacted, utc_now())
            )
            await self._repo.remove_reaction(reaction, post_id, user_id, reacted)
        return None

    def _new_reaction(self, reaction: Reaction) -> Reacted:
        if reaction is Reaction.REPOST:
            repost_id = self._ids.next_id()
            return Reacted(datetime_from_ms(timestamp_ms_of(repost_id)), repost_id)
        return Reacted(utc_now())

    async def get_repost(self, repost_id: int) -> tuple[int, post_pb2.Post, datetime]:
        """(reposter, the post with its counts, when) of a live repost."""
        found = await self._repo.repost(repost_id)
        if found is None:
            raise NotFound("REPOST_NOT_FOUND", f"there is no repost {repost_id} (never made, or undone)")
        post_id, user_id, at = found
        return user_id, await self.get_post(post_id), at

    async def _live_post(self, post_id: int, what: str) -> post_pb2.Post:
        post = await self._repo.get(post_id)
        if post is None:
            raise NotFound("POST_NOT_FOUND", f"{what} ({post_id}) does not exist or was deleted", post_id=str(post_id))
        return post

    async def _require_user(self, user_id: int, reason: str, doing: str) -> None:
        if not await self._graph.user_exists(user_id):
            raise NotFound(
                reason, f"there is no user with id {user_id}{' ' + doing if doing else ''}", user_id=str(user_id)
            )
