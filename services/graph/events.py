"""The graph service's events as they go on `chirp.graph.events.v1`."""

from datetime import datetime

from chirp.graph.v1 import graph_pb2
from services.graph.domain import Follow, Relationship, Restriction, RestrictionKind, Stats, User
from services.runtime.clock import ms_of, timestamp_from_datetime
from services.runtime.envelopes import event_id_for


def user_message(user: User) -> graph_pb2.User:
    return graph_pb2.User(
        user_id=user.user_id,
        handle=user.handle,
        display_name=user.display_name,
        create_time=timestamp_from_datetime(user.create_time),
        bio=user.bio,
        update_time=timestamp_from_datetime(user.update_time) if user.update_time else None,
        indexable=user.indexable,
    )


def stats_message(stats: Stats) -> graph_pb2.UserStats:
    return graph_pb2.UserStats(
        follower_count=stats.follower_count, following_count=stats.following_count, post_count=stats.post_count
    )


def relationship_message(relationship: Relationship) -> graph_pb2.Relationship:
    return graph_pb2.Relationship(
        following=relationship.following,
        followed_by=relationship.followed_by,
        blocking=relationship.blocking,
        blocked_by=relationship.blocked_by,
        muting=relationship.muting,
    )


def user_created(user: User) -> graph_pb2.GraphEvent:
    return graph_pb2.GraphEvent(
        event_id=event_id_for("user-created", user.user_id),
        occurred_at=timestamp_from_datetime(user.create_time),
        user_created=graph_pb2.UserCreated(user=user_message(user)),
    )


def profile_updated(user: User) -> graph_pb2.GraphEvent:
    # Identified by the update's time, so re-publishing the last update is recognised as the same event.
    return graph_pb2.GraphEvent(
        event_id=event_id_for("profile-updated", user.user_id, ms_of(user.update_time)),
        occurred_at=timestamp_from_datetime(user.update_time),
        profile_updated=graph_pb2.ProfileUpdated(user=user_message(user)),
    )


def user_followed(follow: Follow) -> graph_pb2.GraphEvent:
    return graph_pb2.GraphEvent(
        event_id=event_id_for("user-followed", follow.follower_id, follow.followee_id, ms_of(follow.followed_at)),
        occurred_at=timestamp_from_datetime(follow.followed_at),
        user_followed=graph_pb2.UserFollowed(follower_id=follow.follower_id, followee_id=follow.followee_id),
    )


def user_unfollowed(follow: Follow, at: datetime) -> graph_pb2.GraphEvent:
    # Identified by the follow it ends, so a retried unfollow of the same follow is the same event.
    return graph_pb2.GraphEvent(
        event_id=event_id_for("user-unfollowed", follow.follower_id, follow.followee_id, ms_of(follow.followed_at)),
        occurred_at=timestamp_from_datetime(at),
        user_unfollowed=graph_pb2.UserUnfollowed(follower_id=follow.follower_id, followee_id=follow.followee_id),
    )


def restricted(restriction: Restriction) -> graph_pb2.GraphEvent:
    """UserBlocked or UserMuted, identified by the restriction: a repeated block is the same event."""
    r = restriction
    if r.kind is RestrictionKind.BLOCK:
        payload = {"user_blocked": graph_pb2.UserBlocked(blocker_id=r.user_id, blocked_id=r.target_id)}
    else:
        payload = {"user_muted": graph_pb2.UserMuted(muter_id=r.user_id, muted_id=r.target_id)}
    return graph_pb2.GraphEvent(
        event_id=event_id_for(f"user-{r.kind}-started", r.user_id, r.target_id, ms_of(r.since)),
        occurred_at=timestamp_from_datetime(r.since),
        **payload,
    )


def restriction_lifted(restriction: Restriction, at: datetime) -> graph_pb2.GraphEvent:
    """UserUnblocked or UserUnmuted, identified by the restriction it ends (as user_unfollowed is)."""
    r = restriction
    if r.kind is RestrictionKind.BLOCK:
        payload = {"user_unblocked": graph_pb2.UserUnblocked(blocker_id=r.user_id, blocked_id=r.target_id)}
    else:
        payload = {"user_unmuted": graph_pb2.UserUnmuted(muter_id=r.user_id, muted_id=r.target_id)}
    return graph_pb2.GraphEvent(
        event_id=event_id_for(f"user-{r.kind}-lifted", r.user_id, r.target_id, ms_of(r.since)),
        occurred_at=timestamp_from_datetime(at),
        **payload,
    )


def filter_changed(filter_: graph_pb2.Filter, created: bool) -> graph_pb2.GraphEvent:
    """FilterCreated or FilterUpdated, identified by the filter and its update time: a retried change is the same
    event."""
    kind = "filter-created" if created else "filter-updated"
    payload = (
        {"filter_created": graph_pb2.FilterCreated(filter=filter_)}
        if created
        else {"filter_updated": graph_pb2.FilterUpdated(filter=filter_)}
    )
    return graph_pb2.GraphEvent(
        event_id=event_id_for(kind, filter_.user_id, filter_.filter_id, filter_.update_time.ToMilliseconds()),
        occurred_at=filter_.update_time,
        **payload,
    )


def filter_deleted(filter_: graph_pb2.Filter, at: datetime) -> graph_pb2.GraphEvent:
    """Identified by the filter as it last stood, so a retried deletion is the same event."""
    return graph_pb2.GraphEvent(
        event_id=event_id_for(
            "filter-deleted", filter_.user_id, filter_.filter_id, filter_.update_time.ToMilliseconds()
        ),
        occurred_at=timestamp_from_datetime(at),
        filter_deleted=graph_pb2.FilterDeleted(user_id=filter_.user_id, filter_id=filter_.filter_id),
    )
