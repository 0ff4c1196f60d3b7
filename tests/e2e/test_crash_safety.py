"""A timeline worker killed with SIGKILL in the middle of a fan-out loses nothing and duplicates nothing."""

import random
from concurrent.futures import ThreadPoolExecutor

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from tests.helpers import eventually, unique_handle

AUTHORS = 5
FOLLOWERS = 20
POSTS = 1000


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

    def publish(i: int) -> tuple[int, int]:
        author = authors[i % AUTHORS]
        request = post.CreatePostRequest(author_id=author, text=f"post {i} of the crash test")
        return author, clients.post.CreatePost(request, timeout=30).post.post_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(publish, range(300)))
        system.kill("timeline")  # SIGKILL: no shutdown hook runs, nothing gets committed on the way out
        rest = list(pool.map(publish, range(300, POSTS)))
    for author, post_id in first + rest:
        posted[author].append(post_id)
    system.start("timeline")

    for follower, followees in follows.items():
        expected = sorted((pid for a in followees for pid in posted[a]), reverse=True)

        def caught_up():
            return len(home_timeline(clients, follower)) >= len(expected)

        eventually(caught_up, timeout=120, interval=0.5)
        actual = home_timeline(clients, follower)
        assert len(actual) == len(set(actual)), "a post appears twice"
        assert actual == expected, f"follower {follower}: {len(set(expected) - set(actual))} missing, {len(set(actual) - set(expected))} extra"
