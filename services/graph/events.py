"""The graph service's events as they go on `chirp.graph.events.v1`."""

from datetime import datetime

from chirp.graph.v1 import graph_pb2
from services.graph.domain import Follow, User
from services.runtime.events import event_id_for, ms_of, timestamp_from_datetime


def user_message(user: User) -> graph_pb2.User:
    return graph_pb2.User(
        user_id=user.user_id,
        handle=user.handle,
        display_name=user.display_name,
        create_time=timestamp_from_datetime(user.create_time),
    )


def user_created(user: User) -> graph_pb2.GraphEvent:
    return graph_pb2.GraphEvent(
        event_id=event_id_for("user-created", user.user_id),
        occurred_at=timestamp_from_datetime(user.create_time),
        user_created=graph_pb2.UserCreated(user=user_message(user)),
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
