"""Outages under load: Cassandra stopped for 30 s, the Kafka broker restarted.

On a Kafka and a Cassandra of their own (tests/e2e/outage_servers.py), so that stopping them disturbs no other
test and no system started with `make up`.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.cli.launcher import infra, running_system
from services.runtime.topics import DEAD_LETTERS
from tests.helpers import eventually, home_timeline, read_topic, unique_handle

AUTHORS = 4
READERS = 10
OUTAGE_SECONDS = 30


@pytest.fixture(scope="module")
def system(servers_env):
    # The services a post reaches a home timeline through, and no others to slow the load and the recovery (the
    # servers' data goes with them).
    with running_system(servers_env, services=("identity", "graph", "post", "timeline"), drop=False) as chirp:
        yield chirp


def network(clients) -> tuple[list[int], list[int]]:
    def create(stem):
        return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id

    authors, readers = [create("oauth") for _ in range(AUTHORS)], [create("oread") for _ in range(READERS)]
    for reader in readers:
        for author in authors:
            clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=author), timeout=10)
    return authors, readers


def load_during(clients, authors: list[int], outage, posts: int) -> list[int]:
    """Post from 4 threads while `outage()` runs in another; the ids of the posts whose CreatePost was answered."""
    answered: list[int] = []
    lock = threading.Lock()

    def publish(i: int) -> None:
        request = post.CreatePostRequest(author_id=authors[i % AUTHORS], text=f"outage {i}")
        try:
            post_id = clients.post.CreatePost(request, timeout=30).post.post_id
        except grpc.RpcError:
            return  # not answered: the caller knows it may not have happened
        with lock:
            answered.append(post_id)

    outage_thread = threading.Thread(target=outage)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(publish, range(posts // 2)))
        outage_thread.start()
        list(pool.map(publish, range(posts // 2, posts)))
    outage_thread.join()
    return answered


def home_while_recovering(clients, reader: int) -> list[int]:
    """A home timeline, or nothing while the service still answers UNAVAILABLE (its driver reconnecting)."""
    try:
        return home_timeline(clients, reader)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return []


def assert_every_answered_post_reaches_every_reader(clients, readers: list[int], answered: list[int]) -> None:
    expected = sorted(answered, reverse=True)
    for reader in readers:
        eventually(
            lambda reader=reader: len(home_while_recovering(clients, reader)) >= len(expected), timeout=300, interval=1
        )
        assert home_timeline(clients, reader) == expected


def timeline_dead_letters(settings) -> list:
    return [
        r
        for r in read_topic(settings, settings.topic(DEAD_LETTERS.name))
        if dict(r.headers).get("chirp-dead-letter-projection") == b"timeline"
    ]


def test_with_cassandra_stopped_for_30_seconds_the_workers_wait_and_catch_up_dead_lettering_nothing(system, clients):
    authors, readers = network(clients)
    letters_before = len(timeline_dead_letters(system.settings))

    def outage() -> None:
        infra("stop", "cassandra", env=system.env)
        time.sleep(OUTAGE_SECONDS)
        infra("start", "cassandra", env=system.env)
        infra("wait", "cassandra", env=system.env)

    answered = load_during(clients, authors, outage, posts=400)
    assert_every_answered_post_reaches_every_reader(clients, readers, answered)
    assert len(timeline_dead_letters(system.settings)) == letters_before


def test_with_the_kafka_broker_restarted_no_answered_post_is_lost(system, clients):
    authors, readers = network(clients)

    def outage() -> None:
        infra("stop", "kafka", env=system.env)
        infra("start", "kafka", env=system.env)
        infra("wait", "kafka", env=system.env)

    answered = load_during(clients, authors, outage, posts=400)
    assert_every_answered_post_reaches_every_reader(clients, readers, answered)
