"""Where an event becomes a notification: the notification projection of the post and graph topics."""

from collections.abc import Sequence

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.notification.domain import for_follow, for_post
from services.notification.repository import NotificationRepository
from services.runtime.events import micros_of
from services.runtime.projection import Record, decode


class NotificationProjection:
    def __init__(self, repo: NotificationRepository, post_topic: str, graph_topic: str, max_mentions: int) -> None:
        self._repo = repo
        self._max_mentions = max_mentions
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}

    async def apply(self, records: Sequence[Record]) -> None:
        for record in records:
            envelope = decode(record, self._envelopes)
            if envelope is None:
                continue
            at = micros_of(envelope.occurred_at)
            kind = envelope.WhichOneof("payload")
            if kind in ("user_created", "profile_updated"):
                user = getattr(envelope, kind).user
                await self._repo.save_user(user.user_id, user.handle, user.display_name, at)
            elif kind == "user_followed":
                await self._repo.save(for_follow(envelope), at)
            elif kind == "post_created":
                await self._repo.save(for_post(envelope, self._max_mentions), at)
