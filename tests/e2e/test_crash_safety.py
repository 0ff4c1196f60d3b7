"""A timeline worker killed with SIGKILL in the middle of a fan-out loses nothing and duplicates nothing."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.runtime.topics import POST_EVENTS
from services.timeline.domain import HOME_TIMELINE_CAP
from tests.helpers import committed_offsets, end_offsets, eventually, unique_handle

AUTHORS = 5
FOLLOWERS = 20
POSTS = 1000
KILL_AFTER = 400


def home_timeline(clients, user_id: int) -> list[int]:
    """Every post id of a home timeline, following page tokens to the end."""
    ids, token = [], ""
    while True:
        page = clients.timeline.GetHomeTimeline(
            timeline.GetHomeTimelineRequest(user_id=user_id, page_size=100, page_token=token), timeout=10
        )
        ids.extend(p.post_id for p in page.posts)
        token = page.next_page_token
        if not token:
            return ids


def test_killing_the_timeline_worker_mid_fan_out_loses_and_duplicates_nothing(system, clients):
    rng = random.Random(7)
    create = lambda stem: clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id
    authors = [create("auth") for _ in range(AUTHORS)]
    followers = [create("fol") for _ in range(FOLLOWERS)]
    follows = {f: set(rng.sample(authors, rng.randint(1, AUTHORS))) for f in followers}
    for follower, followees in follows.items():
        for followee in followees:
            clients.graph.FollowUser(graph.FollowUserRequest(follower_id=follower, followee_id=followee), timeout=10)

    posted: dict[int, list[int]] = {a: [] for a in authors}
    sent = 0
    lock = threading.Lock()
    backlog_at_kill: list[int] = []

    def kill_mid_stream() -> None:
        """SIGKILL: no shutdown hook runs. Then measure what the worker had not committed yet."""
        topic = system.settings.topic(POST_EVENTS.name)
        system.kill("timeline")
        ends = end_offsets(system.settings, topic)
        committed = committed_offsets(system.settings, system.settings.consumer_group("timeline"), topic)
        backlog_at_kill.append(sum(end - committed.get(p, 0) for p, end in ends.items()))

    def publish(i: int) -> None:
        nonlocal sent
        author = authors[i % AUTHORS]
        request = post.CreatePostRequest(author_id=author, text=f"post {i} of the crash test")
        post_id = clients.post.CreatePost(request, timeout=30).post.post_id
        with lock:
            posted[author].append(post_id)
            sent += 1
            if sent == KILL_AFTER:
                kill_mid_stream()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(publish, range(POSTS)))
    # The kill landed while posts were still flowing and before the worker had committed all it had seen.
    assert backlog_at_kill and backlog_at_kill[0] > 0
    system.start("timeline")

    for follower, followees in follows.items():
        # A home timeline keeps its newest HOME_TIMELINE_CAP entries; older ones may have been trimmed.
        expected = sorted((pid for a in followees for pid in posted[a]), reverse=True)[:HOME_TIMELINE_CAP]

        def caught_up():
            return len(home_timeline(clients, follower)) >= len(expected)

        eventually(caught_up, timeout=120, interval=0.5)
        actual = home_timeline(clients, follower)[: len(expected)]
        assert len(actual) == len(set(actual)), "a post appears twice"
        assert actual == expected, f"follower {follower}: {len(set(expected) - set(actual))} missing, {len(set(actual) - set(expected))} extra"
