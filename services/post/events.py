"""The post service's events as they go on `chirp.post.events.v1`. Ids are derived from the fact, so a retried
publication is the same event."""

from datetime import datetime

from chirp.post.v1 import post_pb2
from services.post.domain import Reacted, Reaction
from services.runtime.clock import ms_of, timestamp_from_datetime
from services.runtime.envelopes import event_id_for


def post_created(post: post_pb2.Post) -> post_pb2.PostEvent:
    return post_pb2.PostEvent(
        event_id=event_id_for("post-created", post.post_id),
        occurred_at=post.create_time,
        post_created=post_pb2.PostCreated(post=post),
    )


def post_deleted(post: post_pb2.Post, at: datetime) -> post_pb2.PostEvent:
    return post_pb2.PostEvent(
        event_id=event_id_for("post-deleted", post.post_id),
        occurred_at=timestamp_from_datetime(at),
        post_deleted=post_pb2.PostDeleted(post_id=post.post_id, author_id=post.author_id),
    )


# Reaction events by reaction and direction: (payload field, message type).
_REACTIONS = {
    (Reaction.REPOST, True): ("post_reposted", post_pb2.PostReposted),
    (Reaction.REPOST, False): ("repost_undone", post_pb2.RepostUndone),
    (Reaction.LIKE, True): ("post_liked", post_pb2.PostLiked),
    (Reaction.LIKE, False): ("post_unliked", post_pb2.PostUnliked),
}


def reaction(
    kind: Reaction, added: bool, post: post_pb2.Post, user_id: int, reacted: Reacted, at: datetime
) -> post_pb2.PostEvent:
    """A like/repost or its undoing. Identified by the reaction it concerns (who, what, when it was made)."""
    field, message = _REACTIONS[(kind, added)]
    ids = {"repost_id": reacted.repost_id} if kind is Reaction.REPOST else {}
    return post_pb2.PostEvent(
        event_id=event_id_for(field, post.post_id, user_id, ms_of(reacted.at)),
        occurred_at=timestamp_from_datetime(at),
        **{field: message(post_id=post.post_id, author_id=post.author_id, user_id=user_id, **ids)},
    )
