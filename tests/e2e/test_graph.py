"""The social graph over gRPC: unique handles under concurrency, idempotent follows, consistent pages."""

from concurrent.futures import ThreadPoolExecutor

import grpc

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.notification.v1 import notification_service_pb2 as notification
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from tests.helpers import eventually, unique_handle


def create(clients, stem: str) -> int:
    return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id


def test_of_many_concurrent_claims_on_one_handle_in_different_cases_exactly_one_wins(clients):
    handle = unique_handle("race")
    spellings = [handle, handle.upper(), handle.capitalize(), handle.swapcase()] * 3

    def claim(spelling: str):
        try:
            return clients.graph.CreateUser(graph.CreateUserRequest(handle=spelling), timeout=10).user.user_id
        except grpc.RpcError as error:
            return error.code()

    with ThreadPoolExecutor(max_workers=len(spellings)) as pool:
        outcomes = list(pool.map(claim, spellings))
    winners = [o for o in outcomes if isinstance(o, int)]
    assert len(winners) == 1
    assert outcomes.count(grpc.StatusCode.ALREADY_EXISTS) == len(spellings) - 1
    assert (
        clients.graph.ResolveHandle(graph.ResolveHandleRequest(handle=handle.upper()), timeout=10).user.user_id
        == winners[0]
    )


def test_a_retried_create_user_with_the_same_request_id_returns_the_same_user(clients):
    handle = unique_handle("retry")
    first = clients.graph.CreateUser(graph.CreateUserRequest(handle=handle, request_id="r-1"), timeout=10).user
    again = clients.graph.CreateUser(graph.CreateUserRequest(handle=handle, request_id="r-1"), timeout=10).user
    assert again == first


def test_following_twice_is_one_follow_and_one_notification(clients):
    fan, star = create(clients, "fan"), create(clients, "star")
    for _ in range(3):
        clients.graph.FollowUser(graph.FollowUserRequest(follower_id=fan, followee_id=star), timeout=10)
    followers = clients.graph.ListFollowers(graph.ListFollowersRequest(user_id=star), timeout=10).users
    assert [u.user_id for u in followers] == [fan]

    def notifications():
        return clients.notification.ListNotifications(
            notification.ListNotificationsRequest(user_id=star), timeout=10
        ).notifications

    eventually(notifications)
    clients.post.CreatePost(post.CreatePostRequest(author_id=star, text="a marker after the follows"), timeout=10)
    eventually(
        lambda: clients.timeline.GetUserTimeline(timeline.GetUserTimelineRequest(user_id=star), timeout=10).posts
    )
    assert len(notifications()) == 1


def test_followers_and_following_come_in_pages_that_add_up(clients):
    star = create(clients, "star")
    fans = sorted(create(clients, "fan") for _ in range(7))
    for fan in fans:
        clients.graph.FollowUser(graph.FollowUserRequest(follower_id=fan, followee_id=star), timeout=10)
    seen, token, pages = [], "", 0
    while True:
        page = clients.graph.ListFollowers(
            graph.ListFollowersRequest(user_id=star, page_size=3, page_token=token), timeout=10
        )
        seen += [u.user_id for u in page.users]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == fans and pages == 3
    following = clients.graph.ListFollowing(graph.ListFollowingRequest(user_id=fans[0]), timeout=10).users
    assert [u.user_id for u in following] == [star]


def test_unfollowing_removes_the_followees_posts_from_the_home_timeline(clients):
    reader, writer = create(clients, "reader"), create(clients, "writer")
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=writer), timeout=10)
    post_id = clients.post.CreatePost(
        post.CreatePostRequest(author_id=writer, text="soon gone"), timeout=10
    ).post.post_id

    def home():
        return [
            p.post_id
            for p in clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=reader), timeout=10).posts
        ]

    eventually(lambda: post_id in home())
    clients.graph.UnfollowUser(graph.UnfollowUserRequest(follower_id=reader, followee_id=writer), timeout=10)
    clients.graph.UnfollowUser(
        graph.UnfollowUserRequest(follower_id=reader, followee_id=writer), timeout=10
    )  # idempotent
    eventually(lambda: post_id not in home())
    assert clients.graph.ListFollowing(graph.ListFollowingRequest(user_id=reader), timeout=10).users == []


def test_a_follow_brings_the_followees_earlier_posts_into_the_home_timeline(clients):
    reader, writer = create(clients, "reader"), create(clients, "writer")
    earlier = clients.post.CreatePost(
        post.CreatePostRequest(author_id=writer, text="before you came"), timeout=10
    ).post.post_id
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=writer), timeout=10)
    eventually(
        lambda: (
            earlier
            in [
                p.post_id
                for p in clients.timeline.GetHomeTimeline(
                    timeline.GetHomeTimelineRequest(user_id=reader), timeout=10
                ).posts
            ]
        )
    )
