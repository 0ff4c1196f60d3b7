"""SIGKILL the timeline process during a load over a skewed follower graph, then compare every home timeline with
one computed independently from the log: nothing missing, nothing extra, nothing twice."""

import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post
from services.runtime.kafka import EVENT_TYPE_HEADER
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.domain import HOME_TIMELINE_CAP
from tests.e2e.test_crash_safety import home_timeline
from tests.helpers import eventually, read_topic, unique_handle

AUTHORS = 12  # each may post 300 times in 3 hours
READERS = 40
POSTS = 2400
KILL_AFTER = 900


def timelines_from_the_log(settings, readers: set[int], authors: set[int]) -> dict[int, list[int]]:
    """Home timelines as the rules define them, from the events alone (this test only follows and posts)."""
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


def test_a_killed_worker_under_a_skewed_load_leaves_timelines_equal_to_the_log(system, clients):
    rng = random.Random(23)
    create = lambda stem: clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id
    authors = [create("lauth") for _ in range(AUTHORS)]
    readers = [create("lread") for _ in range(READERS)]
    # Skewed: the first authors are followed by most readers, the last by few (80/20-like).
    for reader in readers:
        for rank, author in enumerate(authors):
            if rng.random() < 0.9 / (1 + rank):
                clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=author), timeout=10)

    def publish(i: int) -> None:
        if i == KILL_AFTER:
            system.kill("timeline")
        author = authors[i % AUTHORS]
        clients.post.CreatePost(post.CreatePostRequest(author_id=author, text=f"log {i}"), timeout=30)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(publish, range(POSTS)))
    system.start("timeline")

    expected = timelines_from_the_log(system.settings, set(readers), set(authors))
    assert sum(map(len, expected.values())) > POSTS, "the graph should fan each post out to several readers"
    for reader in readers:
        eventually(lambda: len(home_timeline(clients, reader)) >= len(expected[reader]), timeout=180, interval=0.5)
        actual = home_timeline(clients, reader)[: len(expected[reader])]
        assert len(actual) == len(set(actual)), "a post appears twice"
        assert actual == expected[reader], f"{len(set(expected[reader]) - set(actual))} missing, {len(set(actual) - set(expected[reader]))} extra"
