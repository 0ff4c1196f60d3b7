"""Where an event becomes a notification: the notification projection of the post and graph topics, and of the
notification service's own topic (preferences).

Every write is keyed by the event and made at the event's time, so a re-delivered or replayed event changes
nothing. Graph events are kept as a history per pair, and preference changes as a history per user, so blocks,
mutes, follows and preferences are judged as they stood when an act happened, whichever topic the projection
reads first.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from chirp.graph.v1 import graph_pb2
from chirp.notification.v1 import notification_pb2
from chirp.post.v1 import post_pb2
from services.notification.domain import (
    CAUSED_BY_POST,
    FOLLOW_WINDOW,
    Act,
    PreferenceChange,
    Preferences,
    Retraction,
    event_time,
    for_follow,
    for_post,
    for_quote,
    for_reaction,
    groups_about_own_post,
    retraction_of_reaction,
    retraction_of_unfollow,
    wanted,
)
from services.notification.repository import NotificationRepository, WaitingQuote
from services.runtime.clock import micros_of, ms_of
from services.runtime.projection.records import Record, envelope_of

# Acts after a block or mute that are looked at again when it is projected late.
MAX_REJUDGED = 1000

# Graph event -> (relation, whether it starts or ends, the field of who does it, the field of whom it concerns).
_RELATION_CHANGES = {
    "user_followed": ("follows", True, "follower_id", "followee_id"),
    "user_unfollowed": ("follows", False, "follower_id", "followee_id"),
    "user_blocked": ("blocks", True, "blocker_id", "blocked_id"),
    "user_unblocked": ("blocks", False, "blocker_id", "blocked_id"),
    "user_muted": ("mutes", True, "muter_id", "muted_id"),
    "user_unmuted": ("mutes", False, "muter_id", "muted_id"),
}


class NotificationProjection:
    def __init__(
        self,
        repo: NotificationRepository,
        post_topic: str,
        graph_topic: str,
        max_mentions: int,
        notification_topic: str = "",
        follow_window: timedelta = FOLLOW_WINDOW,
    ) -> None:
        self._repo = repo
        self._max_mentions = max_mentions
        self._follow_window = follow_window
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}
        if notification_topic:
            self._envelopes[notification_topic] = notification_pb2.NotificationEvent

    async def apply(self, records: Sequence[Record]) -> None:
        for record in records:
            # A record that does not parse raises, and the runner dead-letters it alone.
            await self._apply(envelope_of(record, self._envelopes))

    async def _apply(self, envelope) -> None:
        at = micros_of(envelope.occurred_at)
        kind = envelope.WhichOneof("payload")
        if kind in ("user_created", "profile_updated"):
            user = getattr(envelope, kind).user
            await self._repo.save_user(user.user_id, user.handle, user.display_name, at)
        elif kind in _RELATION_CHANGES:
            relation, active, subject, other = _RELATION_CHANGES[kind]
            change = getattr(envelope, kind)
            since = event_time(envelope.occurred_at)
            await self._repo.set_relation(getattr(change, subject), getattr(change, other), relation, active, since, at)
            if kind == "user_followed":
                await self._notify(for_follow(envelope, self._follow_window), at)
            elif kind == "user_unfollowed":
                # The window the follow joined: when it happened, from the pair's history (written just before).
                followed_at = await self._repo.followed_since(change.follower_id, change.followee_id, since)
                await self._repo.retract(retraction_of_unfollow(envelope, followed_at, self._follow_window), at)
            elif kind == "user_blocked":
                await self._rejudge(change.blocker_id, change.blocked_id, since)
                await self._rejudge(change.blocked_id, change.blocker_id, since)
            elif kind == "user_muted":
                await self._rejudge(change.muter_id, change.muted_id, since)
        elif kind == "post_created":
            await self._post_created(envelope, at)
        elif kind == "post_deleted":
            await self._post_deleted(envelope.post_deleted, at)
        elif kind in ("post_liked", "post_reposted"):
            reacted = await self._repo.post(getattr(envelope, kind).post_id)
            await self._notify([for_reaction(envelope, reacted[1] if reacted else "")], at)
        elif kind in ("post_unliked", "repost_undone"):
            await self._repo.retract(retraction_of_reaction(envelope), at)
        elif kind == "preferences_updated":
            updated = envelope.preferences_updated
            change = PreferenceChange(
                event_time(envelope.occurred_at), _preferences(updated.preferences), _preferences(updated.previous)
            )
            await self._repo.record_preferences(updated.user_id, change, at)

    async def _post_created(self, envelope: post_pb2.PostEvent, at: int) -> None:
        """The post is recorded before waiting quotes of it are read, and a quote waits before its quoted post is
        looked up: whichever of the two comes second sees the other, so the quote notifies exactly once."""
        post = envelope.post_created.post
        created = event_time(envelope.occurred_at)
        await self._repo.save_post(post.post_id, post.author_id, post.text, at)
        acts = for_post(envelope, self._max_mentions)
        if post.quoted_post_id:
            await self._repo.wait_for_quoted(
                post.quoted_post_id, WaitingQuote(post.post_id, post.author_id, post.text, created), at
            )
            quoted = await self._repo.post(post.quoted_post_id)
            if quoted is not None:
                acts.append(for_quote(quoted[0], post.author_id, post.post_id, post.text, created))
        for quote in await self._repo.quotes_of(post.post_id):
            acts.append(for_quote(post.author_id, quote.quoter_id, quote.quote_post_id, quote.text, quote.create_time))
        await self._notify(acts, at)

    async def _post_deleted(self, deleted: post_pb2.PostDeleted, at: int) -> None:
        """Likes and reposts of the post go from its author's notifications; mentions, the reply and the quote
        it caused go from everyone else's."""
        groups = [(deleted.author_id, key) for key in groups_about_own_post(deleted.post_id)]
        for recipient_id, key in groups + await self._repo.caused_by(deleted.post_id):
            await self._repo.retract_group(recipient_id, key, at)

    async def _rejudge(self, recipient_id: int, actor_id: int, since: datetime) -> None:
        """A block or mute projected after acts that followed it (its partition lagged): take those acts back.
        Each is deleted at its own time, so a later act of the same actor in the same group stays."""
        for create_time, key, actor in await self._repo.acts_since(recipient_id, since, MAX_REJUDGED):
            if actor == actor_id:
                standing = await self._repo.standing_at(recipient_id, actor_id, create_time)
                if standing.blocked or standing.muted:
                    act_time = ms_of(create_time) * 1000 + 999  # the act's write time, to the millisecond
                    await self._repo.retract(Retraction(recipient_id, key, actor_id), act_time)

    async def _notify(self, acts: list[Act], at: int) -> None:
        for act in acts:
            standing = await self._repo.standing_at(act.recipient_id, act.actor_id, act.create_time)
            preferences = await self._repo.preferences_at(act.recipient_id, act.create_time)
            if wanted(act, preferences, standing):
                await self._repo.add(act, act.kind in CAUSED_BY_POST, at)


def _preferences(message: notification_pb2.NotificationPreferences) -> Preferences:
    return Preferences(frozenset(message.disabled_kinds), message.only_following)
