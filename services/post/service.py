"""Use cases of the post service."""

import structlog

from chirp.post.v1 import post_pb2
from services.runtime.graph_client import GraphClient
from services.post.repository import PostRepository
from services.post.text import extract_mentions, normalize_and_validate
from services.runtime.errors import NotFound, Unavailable
from services.runtime.events import event_id_for, timestamp_from_ms
from services.runtime.ids import SnowflakeIds, timestamp_ms_of
from services.runtime.kafka import EventPublisher

log = structlog.get_logger(__name__)


class PostService:
    def __init__(
        self, repo: PostRepository, graph: GraphClient, publisher: EventPublisher, ids: SnowflakeIds, topic: str
    ) -> None:
        self._repo = repo
        self._graph = graph
        self._publisher = publisher
        self._ids = ids
        self._topic = topic

    async def create_post(self, author_id: int, text: str) -> post_pb2.Post:
        """Validate, store, publish PostCreated keyed by author, and answer only once Kafka has it."""
        text = normalize_and_validate(text)
        if not await self._graph.user_exists(author_id):
            raise NotFound("AUTHOR_NOT_FOUND", f"there is no user with id {author_id} to post as", user_id=str(author_id))
        spans = extract_mentions(text)
        resolved = await self._graph.resolve_handles([span.handle for span in spans]) if spans else {}
        post_id = self._ids.next_id()
        created = timestamp_from_ms(timestamp_ms_of(post_id))
        post = post_pb2.Post(
            post_id=post_id,
            author_id=author_id,
            text=text,
            create_time=created,
            mentions=[
                post_pb2.Mention(user_id=resolved[s.handle.lower()], handle=s.handle, start=s.start, end=s.end)
                for s in spans
                if s.handle.lower() in resolved
            ],
        )
        await self._repo.save(post)
        event = post_pb2.PostEvent(
            event_id=event_id_for("post-created", post_id), occurred_at=created, post_created=post_pb2.PostCreated(post=post)
        )
        try:
            await self._publisher.publish(self._topic, author_id, event)
        except Exception as error:
            # Not in the log means not published: take the row back so GetPost agrees, and let the caller retry.
            log.warning("post.publish_failed", post_id=post_id, error=repr(error))
            await self._repo.delete(post_id)
            raise Unavailable("EVENT_LOG_UNAVAILABLE", "the post could not be recorded; nothing was published, try again") from error
        return post

    async def get_post(self, post_id: int) -> post_pb2.Post:
        post = await self._repo.get(post_id)
        if post is None:
            raise NotFound("POST_NOT_FOUND", f"there is no post with id {post_id}", post_id=str(post_id))
        return post
