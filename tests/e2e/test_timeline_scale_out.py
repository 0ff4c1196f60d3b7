"""Two timeline workers share the partitions as one consumer group; SIGKILL one mid-load and nothing is lost."""

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

from aiokafka.admin import AIOKafkaAdminClient

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.cli.launcher import free_port
from tests.helpers import eventually, home_timeline, unique_handle

AUTHORS = 4
FOLLOWERS = 12
POSTS = 600
KILL_AFTER = 250


def group_members(settings, group: str) -> int:
    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([group])
            return len(response.to_object()["groups"][0]["members"])
        finally:
            await admin.close()

    return asyncio.run(run())


def test_two_workers_share_the_partitions_and_the_survivor_takes_over_a_killed_ones(system, clients):
    group = system.settings.consumer_group("timeline")
    system.start("timeline", "--role", "worker", port=free_port(), label="timeline-second")
    eventually(lambda: group_members(system.settings, group) == 2, timeout=60, interval=1)

    rng = random.Random(11)

    def create(stem):
        return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id

    authors = [create("sauth") for _ in range(AUTHORS)]
    followers = [create("sfol") for _ in range(FOLLOWERS)]
    follows = {f: set(rng.sample(authors, rng.randint(1, AUTHORS))) for f in followers}
    for follower, followees in follows.items():
        for followee in followees:
            clients.graph.FollowUser(graph.FollowUserRequest(follower_id=follower, followee_id=followee), timeout=10)

    def publish(i: int) -> tuple[int, int]:
        if i == KILL_AFTER:
            system.kill("timeline-second")
        author = authors[i % AUTHORS]
        return author, clients.post.CreatePost(
            post.CreatePostRequest(author_id=author, text=f"scale {i}"), timeout=30
        ).post.post_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        posted = list(pool.map(publish, range(POSTS)))
    # The killed worker leaves the group after its session timeout; its partitions go to the survivor.
    eventually(lambda: group_members(system.settings, group) == 1, timeout=60, interval=1)

    for follower, followees in follows.items():
        expected = sorted((pid for author, pid in posted if author in followees), reverse=True)
        eventually(
            lambda follower=follower, expected=expected: len(home_timeline(clients, follower)) >= len(expected),
            timeout=120,
            interval=0.5,
        )
        actual = home_timeline(clients, follower)
        assert actual == expected, (
            f"{len(set(expected) - set(actual))} missing, {len(set(actual) - set(expected))} extra"
        )
