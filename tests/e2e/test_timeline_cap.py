"""A home timeline keeps its newest HOME_TIMELINE_CAP entries readable and trims what is older."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.runtime.cassandra import CassandraSession
from services.timeline.domain import HOME_TIMELINE_CAP, TRIM_EVERY
from tests.helpers import eventually, home_timeline, unique_handle

# Enough beyond the cap that a trim is all but certain (one post in TRIM_EVERY trims; none in 400 is ~1e-5).
POSTS = HOME_TIMELINE_CAP + 400
AUTHORS = 6  # each may post 300 times in 3 hours


def stored_rows(settings, reader: int) -> int:
    async def run():
        session = await CassandraSession.connect(settings)
        try:
            rows = await session.execute_raw(
                f"SELECT count(*) FROM {settings.keyspace('timeline')}.home_entries WHERE user_id = {reader}"
            )
            return rows[0].count
        finally:
            session.shutdown()

    return asyncio.run(run())


def test_the_newest_entries_stay_readable_and_older_ones_are_trimmed(system, clients):
    def create(stem):
        return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id

    reader, authors = create("capr"), [create("capa") for _ in range(AUTHORS)]
    for author in authors:
        clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=author), timeout=10)

    def write(i):
        return clients.post.CreatePost(
            post.CreatePostRequest(author_id=authors[i % AUTHORS], text=f"cap {i}"), timeout=30
        ).post.post_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        posted = sorted(pool.map(write, range(POSTS)), reverse=True)

    newest = posted[:HOME_TIMELINE_CAP]
    eventually(lambda: home_timeline(clients, reader)[:HOME_TIMELINE_CAP] == newest, timeout=120, interval=1)
    rows = stored_rows(system.settings, reader)
    assert HOME_TIMELINE_CAP <= rows <= HOME_TIMELINE_CAP + TRIM_EVERY * 8, rows
    assert home_timeline(clients, reader) == posted[:rows]
