"""SIGKILL the timeline worker during a load of 10,000 posts over a skewed follower graph (the most followed author
above the fan-out threshold), then compare every home timeline with one computed independently from the log:
nothing missing, nothing extra, nothing twice."""

import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from typer.testing import CliRunner

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post
from services.cli.launcher import running_system
from services.cli.main import app as chirp
from services.runtime.envelopes import EVENT_TYPE_HEADER
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.api import home_page
from services.timeline.domain import HOME_TIMELINE_CAP
from services.timeline.projection import THRESHOLD_REFRESH_SECONDS
from tests.helpers import (
    caught_up,
    committed_offsets,
    end_offsets,
    eventually,
    home_timeline,
    on_timeline,
    read_topic,
    unique_handle,
)

AUTHORS = 40  # each posts 250 times: within the rate limit of 300 in 3 hours
READERS = 40
POSTS = 10_000
KILL_AFTER = 3_000
# The most followed authors (about 90% and 45% of readers) are above it; the others are fanned out.
THRESHOLD = READERS // 3


@pytest.fixture(scope="module")
def system(infrastructure):
    """Topics of its own, so the 10,000 posts do not weigh on later tests that replay the session's log; and no
    notification service, which has nothing to do with this test."""
    with running_system(services=("identity", "graph", "post", "timeline")) as chirp:
        yield chirp


def timelines_from_the_log(settings, readers: set[int], authors: set[int]) -> dict[int, list[int]]:
    """The newest HOME_TIMELINE_CAP posts of each home timeline as the rules define them, from the events alone
    (this test only follows and posts)."""
    follows: dict[int, set[int]] = defaultdict(set)
    for record in read_topic(settings, settings.topic(GRAPH_EVENTS.name)):
        if EVENT_TYPE_HEADER in dict(record.headers):
            event = graph_pb2.GraphEvent.FromString(record.value)
            if event.WhichOneof("payload") == "user_followed" and event.user_followed.follower_id in readers:
                follows[event.user_followed.follower_id].add(event.user_followed.followee_id)
    by_author: dict[int, list[int]] = defaultdict(list)
    for record in read_topic(settings, settings.topic(POST_EVENTS.name)):
        if EVENT_TYPE_HEADER in dict(record.headers):
            event = post_pb2.PostEvent.FromString(record.value)
            if event.WhichOneof("payload") == "post_created" and event.post_created.post.author_id in authors:
                by_author[event.post_created.post.author_id].append(event.post_created.post.post_id)
    return {
        reader: sorted((p for a in follows[reader] for p in by_author[a]), reverse=True)[:HOME_TIMELINE_CAP]
        for reader in readers
    }


def stored_timelines(settings, readers: list[int]) -> dict[int, list[int]]:
    """What each reader's home page would hold: rows and held-back posts merged, read straight from Cassandra."""

    async def read(repo):
        return {r: [e.post_id for e in await home_page(repo, r, 2**63 - 1, HOME_TIMELINE_CAP)] for r in readers}

    return on_timeline(settings, read)


def test_a_killed_worker_under_a_skewed_load_leaves_timelines_equal_to_the_log(system, clients):
    rng = random.Random(23)

    def create(stem):
        return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id

    authors = [create("lauth") for _ in range(AUTHORS)]
    readers = [create("lread") for _ in range(READERS)]
    # Skewed: the first authors are followed by most readers, the last by few (80/20-like).
    for reader in readers:
        for rank, author in enumerate(authors):
            if rng.random() < 0.9 / (1 + rank):
                clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=author), timeout=10)
    assert CliRunner().invoke(chirp, ["timeline", "fanout-threshold", str(THRESHOLD)], env=system.env).exit_code == 0
    try:
        sent, lock, backlog_at_kill = 0, threading.Lock(), []

        def kill_mid_stream() -> None:
            """SIGKILL: no shutdown hook runs. Then measure what the worker had not committed yet."""
            topic = system.settings.topic(POST_EVENTS.name)
            system.kill("timeline")
            ends = end_offsets(system.settings, topic)
            committed = committed_offsets(system.settings, system.settings.consumer_group("timeline"), topic)
            backlog_at_kill.append(sum(end - committed.get(p, 0) for p, end in ends.items()))

        def publish(i: int) -> None:
            nonlocal sent
            clients.post.CreatePost(post.CreatePostRequest(author_id=authors[i % AUTHORS], text=f"log {i}"), timeout=30)
            with lock:
                sent += 1
                if sent == KILL_AFTER:
                    kill_mid_stream()

        time.sleep(2 * THRESHOLD_REFRESH_SECONDS)  # the worker has read it
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(publish, range(POSTS)))
        # The kill landed while posts were still flowing and before the worker had committed all it had seen.
        assert backlog_at_kill and backlog_at_kill[0] > 0
        system.start("timeline")
        eventually(
            lambda: caught_up(system.settings, system.settings.consumer_group("timeline")), timeout=300, interval=1
        )
    finally:
        CliRunner().invoke(
            chirp, ["timeline", "fanout-threshold", str(system.settings.fanout_threshold)], env=system.env
        )

    expected = timelines_from_the_log(system.settings, set(readers), set(authors))
    assert sum(map(len, expected.values())) > 2 * POSTS, "the graph should fan each post out to several readers"
    held_back = on_timeline(system.settings, lambda repo: repo.held_back_page(authors[0], 2**63 - 1, 1))
    assert held_back, "the most followed author should be above the fan-out threshold"
    stored = stored_timelines(system.settings, readers)
    for reader in readers:
        actual = stored[reader]
        assert len(actual) == len(set(actual)), "a post appears twice"
        assert actual == expected[reader], (
            f"{len(set(expected[reader]) - set(actual))} missing, {len(set(actual) - set(expected[reader]))} extra"
        )
    # And through the API, for the readers with the most to read.
    for reader in sorted(readers, key=lambda r: -len(expected[r]))[:3]:
        assert home_timeline(clients, reader)[:HOME_TIMELINE_CAP] == expected[reader]
