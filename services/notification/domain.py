"""Who is notified of what. Pure rules, no I/O."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chirp.graph.v1 import graph_pb2
from chirp.notification.v1.notification_pb2 import NotificationKind
from chirp.post.v1 import post_pb2
from services.runtime.events import event_id_for


@dataclass(frozen=True)
class NewNotification:
    notification_id: UUID
    recipient_id: int
    kind: int
    actor_id: int
    create_time: datetime
    post_id: int = 0
    post_text: str = ""


def _id(event_id: str, recipient_id: int) -> UUID:
    return UUID(event_id_for("notification", event_id, recipient_id))


def for_follow(event: graph_pb2.GraphEvent) -> list[NewNotification]:
    follow = event.user_followed
    return [
        NewNotification(
            _id(event.event_id, follow.followee_id),
            follow.followee_id,
            NotificationKind.NOTIFICATION_KIND_NEW_FOLLOWER,
            follow.follower_id,
            event.occurred_at.ToDatetime(),
        )
    ]


def for_post(event: post_pb2.PostEvent, max_mentions: int) -> list[NewNotification]:
    """A MENTION for each of the first `max_mentions` existing users the post mentions, except its author:
    nobody is notified of their own act, and a post cannot page a crowd."""
    post = event.post_created.post
    recipients = list(dict.fromkeys(m.user_id for m in post.mentions if m.user_id and m.user_id != post.author_id))
    recipients = recipients[:max_mentions]
    return [
        NewNotification(
            _id(event.event_id, recipient),
            recipient,
            NotificationKind.NOTIFICATION_KIND_MENTION,
            post.author_id,
            event.occurred_at.ToDatetime(),
            post.post_id,
            post.text,
        )
        for recipient in recipients
    ]
