"""Follower, following and post counts: equal to the lists they count under concurrent follows, unfollows,
retries and blocks, and following the post topic through a graph process killed mid-stream."""

import random
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.cli.launcher import free_port
from tests.e2e.test_graph import create
from tests.helpers import eventually


def everyone(list_page, request_type, user_id: int) -> list[int]:
    """Every id of a follower or following list, following page tokens to the end."""
    ids, token = [], ""
    while True:
        page = list_page(request_type(user_id=user_id, page_size=7, page_token=token), timeout=10)
        ids += [u.user_id for u in page.users]
        token = page.next_page_token
        if not token:
            return ids


def followers(clients, user_id: int) -> list[int]:
    return everyone(clients.graph.ListFollowers, graph.ListFollowersRequest, user_id)


def following(clients, user_id: int) -> list[int]:
    return everyone(clients.graph.ListFollowing, graph.ListFollowingRequest, user_id)


def stats(clients, user_id: int) -> graph.GetUserResponse:
    return clients.graph.GetUser(graph.GetUserRequest(user_id=user_id), timeout=10).stats


def test_concurrent_follow_and_unfollow_storms_with_retries_leave_counts_equal_to_the_lists(clients):
    stars = [create(clients, "star") for _ in range(2)]
    fans = [create(clients, "fan") for _ in range(16)]

    def storm(fan: int) -> set[int]:
        """40 follows and unfollows of random stars, some sent twice with the same request id; what must hold after."""
        rng = random.Random(fan)
        followed: set[int] = set()
        for _ in range(40):
            star = rng.choice(stars)
            pair = dict(follower_id=fan, followee_id=star, request_id=str(uuid.uuid4()))
            if rng.random() < 0.5:
                rpc, request = clients.graph.FollowUser, graph.FollowUserRequest(**pair)
                followed.add(star)
            else:
                rpc, request = clients.graph.UnfollowUser, graph.UnfollowUserRequest(**pair)
                followed.discard(star)
            for _ in range(rng.choice([1, 1, 2])):
                rpc(request, timeout=10)
        return followed

    with ThreadPoolExecutor(max_workers=len(fans)) as pool:
        expected = dict(zip(fans, pool.map(storm, fans), strict=True))

    for star in stars:
        listed = followers(clients, star)
        assert sorted(listed) == sorted(fan for fan, followed in expected.items() if star in followed)
        assert stats(clients, star).follower_count == len(listed)
    for fan, followed in expected.items():
        listed = following(clients, fan)
        assert sorted(listed) == sorted(followed)
        assert stats(clients, fan).following_count == len(listed)


def test_racing_follows_and_unfollows_of_the_same_pairs_leave_both_directions_and_the_counts_in_agreement(clients):
    star = create(clients, "star")
    fans = [create(clients, "fan") for _ in range(6)]

    def flip(n: int) -> None:
        fan = fans[n % len(fans)]
        if n % 2:
            clients.graph.FollowUser(graph.FollowUserRequest(follower_id=fan, followee_id=star), timeout=10)
        else:
            clients.graph.UnfollowUser(graph.UnfollowUserRequest(follower_id=fan, followee_id=star), timeout=10)

    with ThreadPoolExecutor(max_workers=24) as pool:
        list(pool.map(flip, range(240)))
    listed = followers(clients, star)
    assert sorted(listed) == sorted(fan for fan in fans if following(clients, fan) == [star])
    assert stats(clients, star).follower_count == len(listed)


def test_blocks_racing_follows_leave_no_blocked_user_following(clients):
    star = create(clients, "star")
    fans = [create(clients, "fan") for _ in range(12)]
    start = threading.Barrier(len(fans) * 2)

    def keep_following(fan: int) -> None:
        start.wait()
        for _ in range(5):
            try:
                clients.graph.FollowUser(graph.FollowUserRequest(follower_id=fan, followee_id=star), timeout=10)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.PERMISSION_DENIED

    def block(fan: int) -> None:
        start.wait()
        clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=star, blocked_id=fan), timeout=10)

    with ThreadPoolExecutor(max_workers=len(fans) * 2) as pool:
        for done in [pool.submit(keep_following, fan) for fan in fans] + [pool.submit(block, fan) for fan in fans]:
            done.result()
    assert followers(clients, star) == []
    assert stats(clients, star).follower_count == 0


def test_post_counts_follow_post_created_and_post_deleted_events(clients):
    author, reader = create(clients, "author"), create(clients, "reader")
    assert stats(clients, author).post_count == 0
    posted = [
        clients.post.CreatePost(
            post.CreatePostRequest(author_id=author, text=f"post number {i}"), timeout=10
        ).post.post_id
        for i in range(3)
    ]
    eventually(lambda: stats(clients, author).post_count == 3, timeout=15)
    clients.post.DeletePost(post.DeletePostRequest(post_id=posted[0], user_id=author), timeout=10)
    eventually(lambda: stats(clients, author).post_count == 2, timeout=15)
    assert stats(clients, reader).post_count == 0


def consumer_group_members(settings, group: str) -> int:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def run() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([group])
            _, _, state, _, _, members, *_ = response.groups[0]
            return len(members) if state == "Stable" else 0
        finally:
            await admin.close()

    return asyncio.run(run())


def test_a_graph_process_killed_mid_stream_loses_no_post_and_counts_none_twice(system, clients):
    """A second graph process takes half the post topic's partitions, is SIGKILLed while posts arrive, and the
    first one takes its partitions over from the committed offsets, re-applying what was not committed."""
    authors = [create(clients, "prolif") for _ in range(6)]
    group = system.settings.consumer_group("graph")
    system.start("graph", port=free_port(), label="graph-doomed")
    eventually(lambda: consumer_group_members(system.settings, group) == 2, timeout=60, interval=0.5)

    def write(i: int) -> None:
        clients.post.CreatePost(
            post.CreatePostRequest(author_id=authors[i % len(authors)], text=f"burst {i}"), timeout=30
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(write, i) for i in range(300)]
        writes[100].result()
        system.kill("graph-doomed", signal.SIGKILL)
        for done in writes:
            done.result()

    def counted() -> list[int]:
        return [stats(clients, author).post_count for author in authors]

    eventually(lambda: counted() == [50] * len(authors), timeout=60, interval=0.5)
