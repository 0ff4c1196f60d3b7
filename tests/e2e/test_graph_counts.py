"""Follower, following and post counts: equal to the lists they count under concurrent follows, unfollows,
retries, duplicate request ids, replayed events and blocks; read from the count table in constant time; kept
through a graph process killed mid-stream. Counts trail the edges by the count projection's lag: every check of a
count after a change waits for it (`eventually`)."""

import asyncio
import hashlib
import random
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import grpc
from aiokafka import AIOKafkaProducer
from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.cli.launcher import free_port
from services.graph.domain import CountKind, Follow
from services.graph.events import user_followed
from services.graph.repository import COUNT_ROW, COUNTS_TABLE, STATS_QUERY
from services.graph.wiring import COUNTS
from services.runtime.errors import error_reason
from services.runtime.kafka import EventPublisher
from services.runtime.topics import GRAPH_EVENTS
from tests.e2e.test_graph import create
from tests.helpers import committed_offsets, end_offsets, eventually, read_topic


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


def counts_caught_up(settings) -> bool:
    """Whether the count projection has committed everything on the topics it reads (the copies it publishes to
    the repartition topic included: asked twice, in case a copy was published between the two looks)."""
    group = settings.consumer_group(COUNTS.group_name)

    def once() -> bool:
        return all(
            committed_offsets(settings, group, topic) == {p: o for p, o in end_offsets(settings, topic).items() if o}
            for topic in COUNTS.topic_names(settings)
        )

    return once() and once()


class Cassandra:
    """A plain driver session on this test session's graph keyspace, for what only the table itself can show."""

    def __init__(self, settings) -> None:
        self.keyspace = settings.keyspace("graph")
        self._cluster = Cluster([settings.cassandra_hosts.split(",")[0]], port=settings.cassandra_port)
        self.session = self._cluster.connect(self.keyspace)

    def close(self) -> None:
        self._cluster.shutdown()

    def stored_counts(self, user_id: int, kind: CountKind) -> tuple[int, int]:
        """(the count row's total, the edges whose state is present) of one user's count."""
        total = self.session.execute(
            f"SELECT total FROM {COUNTS_TABLE} WHERE user_id = %s AND kind = %s AND other_id = {COUNT_ROW}",
            (user_id, kind.value),
        ).one()
        edges = self.session.execute(
            f"SELECT present FROM {COUNTS_TABLE} WHERE user_id = %s AND kind = %s AND other_id > {COUNT_ROW}",
            (user_id, kind.value),
        )
        return (total.total if total else 0), sum(1 for row in edges if row.present)


def with_retries(rpc, request) -> None:
    """A call retried while its first attempt with the same request id is still being processed."""
    for _ in range(100):
        try:
            rpc(request, timeout=10)
            return
        except grpc.RpcError as error:
            if error_reason(error) != "REQUEST_IN_PROGRESS":
                raise
            threading.Event().wait(0.05)
    raise AssertionError(f"{request} stayed in progress")


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
        n = len(listed)
        eventually(lambda star=star, n=n: stats(clients, star).follower_count == n, timeout=30)
    for fan, followed in expected.items():
        listed = following(clients, fan)
        assert sorted(listed) == sorted(followed)
        n = len(listed)
        eventually(lambda fan=fan, n=n: stats(clients, fan).following_count == n, timeout=30)


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
    eventually(lambda: stats(clients, star).follower_count == len(listed), timeout=30)


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
    eventually(lambda: stats(clients, star).follower_count == 0, timeout=30)


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
    group = system.settings.consumer_group(COUNTS.group_name)
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


def test_counts_stay_exact_through_many_threads_following_and_unfollowing_one_account_with_retries(system, clients):
    """Twenty fans follow and unfollow one star from twenty threads: each call with a request id, some sent twice
    in a row (a retry), some twice at once (a duplicate request id racing itself), some without one, sent again.
    Then every follow and unfollow of the star is published a second time (a replayed log). The star's count, its
    count row and the edge states under it equal the followers listed, throughout."""
    star = create(clients, "star")
    fans = [create(clients, "fan") for _ in range(20)]

    def storm(fan: int) -> None:
        rng = random.Random(fan)
        for _ in range(25):
            pair = dict(follower_id=fan, followee_id=star)
            request_id = str(uuid.uuid4()) if rng.random() < 0.8 else ""
            follows = rng.random() < 0.55
            rpc = clients.graph.FollowUser if follows else clients.graph.UnfollowUser
            request = (graph.FollowUserRequest if follows else graph.UnfollowUserRequest)(**pair, request_id=request_id)
            how = rng.choice(["once", "retried", "racing"])
            if how == "racing" and request_id:
                with ThreadPoolExecutor(max_workers=2) as pair_of_calls:
                    for done in [pair_of_calls.submit(with_retries, rpc, request) for _ in range(2)]:
                        done.result()
            else:
                for _ in range(2 if how != "once" else 1):
                    with_retries(rpc, request)

    with ThreadPoolExecutor(max_workers=len(fans)) as pool:
        for done in [pool.submit(storm, fan) for fan in fans]:
            done.result()

    listed = followers(clients, star)
    cassandra = Cassandra(system.settings)
    try:
        # Once the projection has applied everything: on the way its count may pass through the final figure.
        eventually(lambda: counts_caught_up(system.settings), timeout=60, interval=0.5)
        assert stats(clients, star).follower_count == len(listed)
        assert cassandra.stored_counts(star, CountKind.FOLLOWERS) == (len(listed), len(listed))

        keys = {str(fan).encode() for fan in fans}
        topic = system.settings.topic(GRAPH_EVENTS.name)
        log = [r for r in read_topic(system.settings, topic) if r.key in keys]
        asyncio.run(republish(system.settings, topic, log))
        eventually(lambda: counts_caught_up(system.settings), timeout=60, interval=0.5)
        assert stats(clients, star).follower_count == len(listed) == len(followers(clients, star))
        assert cassandra.stored_counts(star, CountKind.FOLLOWERS) == (len(listed), len(listed))
        for fan in fans:
            assert stats(clients, fan).following_count == len(following(clients, fan))
    finally:
        cassandra.close()


async def republish(settings, topic: str, records) -> None:
    """The records again, as they were (key, value, headers): what a replay or a producer retry delivers."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.gather(
            *[producer.send_and_wait(topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
        )
    finally:
        await producer.stop()


def claims_of(cassandra: Cassandra, request) -> list:
    """Rows of the graph's request-id table that hold this request (by its fingerprint, whatever its id)."""
    fingerprint = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()
    rows = cassandra.session.execute("SELECT request_id, fingerprint FROM requests")
    return [row.request_id for row in rows if row.fingerprint == fingerprint]


def test_a_follow_without_a_request_id_claims_nothing_and_one_with_an_id_claims_it(system, clients):
    fan, star, other = create(clients, "fan"), create(clients, "star"), create(clients, "other")
    plain = graph.FollowUserRequest(follower_id=fan, followee_id=star)
    claimed = graph.FollowUserRequest(follower_id=fan, followee_id=other, request_id=str(uuid.uuid4()))
    clients.graph.FollowUser(plain, timeout=10)
    clients.graph.FollowUser(plain, timeout=10)
    clients.graph.FollowUser(claimed, timeout=10)
    cassandra = Cassandra(system.settings)
    try:
        assert claims_of(cassandra, plain) == [], "no lightweight transaction without a request id"
        assert claims_of(cassandra, claimed) == [f"operator/{claimed.request_id}"]
    finally:
        cassandra.close()
    assert sorted(
        u.user_id for u in clients.graph.ListFollowing(graph.ListFollowingRequest(user_id=fan)).users
    ) == sorted([star, other])


def test_get_user_reads_each_count_from_its_row_in_the_count_table_however_many_edges(system, clients):
    """An account with 3,000 followers (their follows imported as events, as the bench does): GetUser's read of
    its counts reads three rows (one per count; Cassandra's trace says so), where COUNT(*) over its edges reads
    3,000; and what GetUser answers is what the count row holds."""
    star = create(clients, "star")
    fans = range(1, 3001)  # ids no account has (accounts' ids start above 2^22); a count needs none behind it
    asyncio.run(import_follows(system.settings, star, fans))
    eventually(lambda: stats(clients, star).follower_count == len(fans), timeout=120, interval=0.5)

    cassandra = Cassandra(system.settings)
    try:
        statement = cassandra.session.prepare(STATS_QUERY.format(keyspace=cassandra.keyspace))
        result = cassandra.session.execute(statement, (star, [kind.value for kind in CountKind]), trace=True)
        assert sorted((row.kind, row.total) for row in result) == [("followers", 3000)]
        assert "Read 1 live rows and 0 tombstone cells" in trace_of(result), trace_of(result)
        counted = cassandra.session.execute(
            SimpleStatement(f"SELECT COUNT(*) FROM {COUNTS_TABLE} WHERE user_id = %s AND kind = 'followers'"),
            (star,),
            trace=True,
        )
        assert counted.one()[0] == 3001  # the edges and the count row
        assert "Read 3001 live rows" in trace_of(counted)

        cassandra.session.execute(
            f"UPDATE {COUNTS_TABLE} SET total = 1234567 WHERE user_id = %s AND kind = 'followers' AND other_id = 0",
            (star,),
        )
        assert stats(clients, star).follower_count == 1234567, "GetUser answers what the count row holds"
    finally:
        cassandra.close()


def trace_of(result) -> str:
    return "\n".join(event.description for event in result.get_query_trace(max_wait_sec=10).events)


async def import_follows(settings, followee: int, followers) -> None:
    publisher = EventPublisher(settings.kafka_bootstrap, "chirp-test-import")
    await publisher.start()
    try:
        topic, now = settings.topic(GRAPH_EVENTS.name), datetime.now(UTC)
        await asyncio.gather(*(publisher.publish(topic, f, user_followed(Follow(f, followee, now))) for f in followers))
    finally:
        await publisher.stop()
