"""The bench run: its own Chirp services, the workload's graph, the baselines, then every measured phase in order.

The services run on their own topics, keyspaces and ports (services.cli.launcher.System, as the end-to-end tests
run them), so a system started with `make up` is never touched, and everything is dropped at the end.
"""

import asyncio
import os
import random
import re
import signal
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cassandra.query import SimpleStatement
from google.protobuf.message import Message
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import baselines, edge, trends
from bench import search as search_phase
from bench.lag import ConsumerLag
from bench.load import Latencies, closed_loop, open_loop
from bench.monitor import ResourceMonitor, counted
from bench.profiler import Profiler
from bench.workload import Authors, Texts, fanout_threshold, operation_mix, poisson_offsets, power_law_graph
from chirp.graph.v1 import graph_pb2, graph_service_pb2_grpc
from chirp.graph.v1 import graph_service_pb2 as graph_pb
from chirp.identity.v1 import identity_service_pb2_grpc
from chirp.notification.v1 import notification_service_pb2 as notification_pb
from chirp.notification.v1 import notification_service_pb2_grpc
from chirp.post.v1 import post_pb2, post_service_pb2_grpc
from chirp.post.v1 import post_service_pb2 as post_pb
from chirp.timeline.v1 import timeline_service_pb2 as timeline_pb
from chirp.timeline.v1 import timeline_service_pb2_grpc
from services.cli.credentials import AioBearerInterceptor, OperatorCredentials
from services.cli.launcher import DATA_DIR, System, free_port
from services.graph.domain import CountKind, Follow
from services.graph.events import user_followed
from services.graph.repository import COUNT_ROW, COUNTS_TABLE
from services.graph.wiring import SERVICE as GRAPH
from services.notification.api import NotificationApi
from services.notification.repository import NotificationRepository
from services.notification.wiring import PROJECTION as NOTIFICATION
from services.post import events as post_events
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import now_ms, timestamp_from_ms
from services.runtime.envelopes import event_id_for
from services.runtime.errors import error_reason
from services.runtime.kafka import EventPublisher
from services.runtime.outages import is_infrastructure_error
from services.runtime.projection.rebuild import rebuild
from services.runtime.projection.versions import keyspace_of
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.api import TimelineApi
from services.timeline.hydration_cache import HydrationCache
from services.timeline.reader_state import ReaderState
from services.timeline.repository import TimelineRepository
from services.timeline.wiring import PROJECTION as TIMELINE

assert GRAPH.projection is not None
GRAPH_PROJECTION = GRAPH.projection

RPC_TIMEOUT = 10.0
# Tries of a setup call that timed out or found its first try still running: about a minute in all, as long as a
# request id stays claimed, for a machine busy enough to take seconds per call.
SETUP_ATTEMPTS = 15
# A read's p99 must stay under this for its rate to count as sustainable.
SUSTAINABLE_P99_MS = 100.0
# Beyond this p99, higher rates of the same ladder are not worth running.
HOPELESS_P99_MS = 2000.0
# A watch looks every 10 ms at first, then every tenth of the time waited so far (at most every 250 ms): the
# figure is within 10% (or 10 ms) of the truth, and a slow pipeline is not buried under its own watchers' reads.
FRESHNESS_FIRST_POLL_SECONDS = 0.01
FRESHNESS_MAX_POLL_SECONDS = 0.25
LAG_POLL_SECONDS = 0.1
# The timeline projection's tables that a replay of posts and follows fills, counted for the rebuild's rows/s.
REBUILT_TABLES = ("home_entries", "user_timeline", "posts", "followers", "users")
FRESHNESS_GIVE_UP_SECONDS = 15.0
# Posts whose freshness is watched per second, and at most at once: each watch polls a follower's home timeline,
# so watching every post at 100/s would add several hundred reads a second to what is measured.
WATCHED_PER_SECOND = 10
MAX_WATCHES = 40
# How many accounts a returning reader follows (issue 15: the first page within 200 ms for 2,000).
RETURNING_FOLLOWS = 2_000
# The big account: follows imported per chunk, how long its counting may take, GetUser calls timed one at a time.
BIG_ACCOUNT_CHUNK = 5_000
BIG_ACCOUNT_TIMEOUT_SECONDS = 3600
BIG_ACCOUNT_READS = 300
# How long a held worker may take to start again: faust's start has taken over a minute on the loaded machine.
WORKER_START_SECONDS = 240
# The projection workers a phase may hold (stop, then start again): label -> service.
WORKERS = {"timeline-worker": "timeline", "graph-worker": "graph"}
# The edge keeps up with a rate when at most 0.1% of its requests fail, its p90 stays under the first figure and its
# p99 under the second: a rate above what it can do queues requests longer and longer as a rung goes on. Below the
# ladder's lowest rung, rates are halved down to MIN_EDGE_RATE.
EDGE_SUSTAINABLE_MS = (500.0, 1000.0)
MIN_EDGE_RATE = 1.0
# The comparison alternates HTTP and gRPC in slices this long.
EDGE_SLICE_SECONDS = 1.0
# The processes a request of the edge phase may pass through, whose CPU per request is reported.
EDGE_PATH = ("bench-client", "edge", "identity", "graph-api", "post", "timeline-api")


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one mode of the bench."""

    users: int
    mean_following: float
    above_threshold: int  # accounts whose followers exceed CHIRP_FANOUT_THRESHOLD
    concurrency: int  # closed-loop callers of ingest capacity, B1 and B2
    baseline_seconds: float
    capacity_seconds: float
    ingest_rate: float
    ingest_seconds: float
    freshness_rate: float
    freshness_seconds: float
    celebrity_rate: float  # posts per second by accounts above the threshold, during the freshness phase
    read_rates: tuple[float, ...]
    read_seconds: float
    mixed_rates: tuple[float, ...]
    mixed_seconds: float
    # Longest the rebuild's replay is timed for; a longer replay is stopped there (its rate is what is measured).
    rebuild_seconds: float
    # "api": every follow through FollowUser; "log": UserFollowed events written straight to the graph topic (see
    # _import_follows), for graphs too large to follow one call at a time within the run's budget.
    follows_through: str = "api"
    setup_concurrency: int = 64
    # Readers back from inactivity, each following RETURNING_FOLLOWS accounts (or every account, if fewer).
    returning_readers: int = 10
    # Likes of one post, for the notification listing of its author (issue 15: stays as cheap as with one like).
    notification_likes: int = 10_000
    # FollowUser back to back, `concurrency` callers, for this long: without request ids, then with one each.
    follow_seconds: float = 10
    # Followers of the big account whose GetUser is timed (issue 15: 1,000,000; `--big-followers`); 0 skips it.
    big_followers: int = 100_000
    # The edge phase: people signed up through it, authors each follows, the ladder of HTTP rates and how long each
    # rung runs, and how long each way (HTTP, gRPC) is measured at half the highest rate, in alternating slices.
    edge_people: int = 40
    edge_follows: int = 10
    edge_rates: tuple[float, ...] = (12.5, 25, 50, 100, 200)
    edge_seconds: float = 5
    edge_compare_seconds: float = 20
    # Search (bench/search.py): the in-process index the query p99 is measured on, the people index of the
    # typeahead p99, post-to-searchable's rate and duration, and queries through the service's API.
    search_index_posts: int = 1_000_000
    search_people: int = 100_000
    search_fresh_rate: float = 100.0
    search_fresh_seconds: float = 20.0
    search_api_queries: int = 300
    # The trends phase: 500 sockpuppets post over this long, and 20 accounts spike a new hashtag over this long
    # in the middle of it.
    trends_puppet_seconds: float = 40.0
    trends_spike_seconds: float = 20.0
    # How long the top 10 is still watched after the last post, and the ranking's refresh period (None: the
    # service's default).
    trends_settle_seconds: float = trends.SETTLE_SECONDS
    trends_refresh_seconds: float | None = None


PLANS = {
    "full": Plan(
        10_000,
        5,
        3,
        64,
        10,
        15,
        1160,
        10,
        100,
        30,
        1.0,
        (12.5, 25, 50, 100, 200, 400),
        10,
        (25, 50, 100, 200),
        10,
        90,
        "log",
    ),
    "quick": Plan(
        1_000,
        5,
        3,
        32,
        3,
        5,
        1160,
        5,
        100,
        10,
        1.0,
        (12.5, 25, 50, 100, 200),
        3,
        (25, 50, 100),
        3,
        15,
        "log",
        follow_seconds=5,
        big_followers=20_000,
        edge_people=20,
        edge_rates=(12.5, 25, 50, 100),
        edge_seconds=3,
        search_index_posts=20_000,
        search_people=10_000,
        search_fresh_seconds=5.0,
        search_api_queries=100,
        edge_compare_seconds=8,
    ),  # fmt: skip
    # Read and mixed steps of 3 s: a 1 s step at 5/s had no arrival at all once in a while (e^-5).
    "smoke": Plan(
        80,
        3,
        2,
        8,
        1,
        1,
        30,
        1,
        10,
        1.5,
        2.0,
        (10,),
        3,
        (10,),
        3,
        30,
        returning_readers=3,
        notification_likes=200,
        follow_seconds=1,
        big_followers=500,
        edge_people=4,
        edge_follows=3,
        edge_rates=(10,),
        edge_seconds=2,
        edge_compare_seconds=3,
        search_index_posts=2_000,
        search_people=1_000,
        search_fresh_rate=10.0,
        search_fresh_seconds=1.5,
        search_api_queries=10,
        trends_puppet_seconds=4,
        trends_spike_seconds=2,
        trends_settle_seconds=3,
        trends_refresh_seconds=2,
    ),  # fmt: skip
}


class Bench:
    """One run: start, populate, measure, report, clean up."""

    def __init__(
        self,
        plan: Plan,
        mode: str,
        out_dir: Path,
        seed: int = 1,
        profile: bool = False,
        with_notification: bool = False,
    ) -> None:
        self.plan = plan
        self.rng = random.Random(seed)
        self.graph = power_law_graph(plan.users, plan.mean_following, self.rng)
        self.followers = self.graph.followers()
        self.threshold = fanout_threshold(self.followers, plan.above_threshold)
        # Set before System() reads the environment, so its processes and its settings (used in-process by the
        # rebuild) agree: a few accounts above the hybrid fan-out threshold, and no rate limit in the way.
        os.environ.update(
            CHIRP_FANOUT_THRESHOLD=str(self.threshold),
            CHIRP_POST_RATE_LIMIT="0",
            CHIRP_EDGE_RATE_LIMIT_ACCOUNT="1000000000",
            CHIRP_EDGE_RATE_LIMIT_ADDRESS="1000000000",
        )
        self.system = System()
        self.settings = self.system.settings
        self.with_notification = with_notification
        self.monitor = ResourceMonitor()
        self.profiler = Profiler(out_dir, profile)
        self._phase_began: tuple[str, float] | None = None
        self.results: dict = {
            "mode": mode,
            "plan": asdict(plan),
            "with_notification": with_notification,
            "phase_seconds": {},
            "load_average_at_start": os.getloadavg(),
        }
        self.user_ids: list[int] = []
        self.authors = Authors(list(range(plan.users)), self.rng)
        self.texts = Texts(self.graph.handles, self.rng)
        self.celebrities = [u for u, f in enumerate(self.followers) if len(f) > self.threshold]
        self.progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> dict:
        began = time.monotonic()
        self.monitor.watch("bench-client", os.getpid())
        for name in ("kafka", "cassandra"):
            pid_file = DATA_DIR / "pids" / f"{name}.pid"
            if pid_file.exists():
                self.monitor.watch(name, int(pid_file.read_text().strip()))
        self.monitor.start()
        with self.progress:
            try:
                self._start_services()
                asyncio.run(self._measure())
            finally:
                self._phase("teardown")
                self.profiler.stop()
                self.results["resources"] = self.monitor.stop()
                self.results["profiles"] = self.profiler.summary
                for process in self.system.processes.values():
                    process.terminate()  # all at once: each takes seconds to shut down gracefully
                self.system.stop_all()
                asyncio.run(self._drop_bench_data())
                self.system.drop_data()
        self.results["seconds"] = round(time.monotonic() - began, 1)
        return self.results

    def _phase(self, name: str) -> None:
        """Phases split the CPU figures and the profiles, and are timed."""
        now = time.monotonic()
        if self._phase_began:
            previous, began = self._phase_began
            self.results["phase_seconds"][previous] = round(
                self.results["phase_seconds"].get(previous, 0) + now - began, 1
            )
        self._phase_began = (name, now)
        self.progress.console.log(f"phase: {name}")  # a line per phase even where no progress bar can be drawn
        self.monitor.phase(name)
        self.profiler.stop()
        if name != "teardown":
            self.profiler.start(name, {label: process.pid for label, process in self.system.processes.items()})

    def _start_services(self) -> None:
        """All side by side (each start waits until SERVING; the post service reaches the graph service only when
        called)."""
        self._phase("setup")
        # setup, the six processes below, the notification service if it runs, the edge
        task = self.progress.add_task("starting services", total=9 if self.with_notification else 8)
        self.system.setup()
        self.progress.advance(task)

        def start(label: str, name: str, *args: str, port: int | None = None) -> None:
            # The API processes count the calls they answer (Prometheus, on loopback): the edge phase reads how
            # many calls each HTTP request made from them.
            env = {"CHIRP_METRICS_PORT": str(self.metrics_ports[label])} if label in self.metrics_ports else None
            process = self.system.start(name, *args, port=port, label=label, env=env)
            self.monitor.watch(label, process.pid)
            self.progress.advance(task)

        # The graph's API and its projection (the counts) in processes of their own, as the timeline's, so that a
        # phase can hold the workers and measure the API alone.
        services = [
            ("identity", "identity"),
            ("graph-api", "graph", "--role", "api"),
            ("graph-worker", "graph", "--role", "worker"),
            ("post", "post"),
            ("timeline-api", "timeline", "--role", "api"),
            ("timeline-worker", "timeline", "--role", "worker"),
        ] + ([("notification", "notification")] if self.with_notification else [])
        # Each worker listens (health only) on a port of its own, the same again when it is restarted after a hold.
        self.worker_ports = {label: free_port() for label in WORKERS}
        ports = {"timeline-api": self.system.ports["timeline"], "graph-api": self.system.ports["graph"]}
        ports |= self.worker_ports
        self.metrics_ports = {label: free_port() for label in ("identity", "graph-api", "post", "timeline-api", "edge")}
        with ThreadPoolExecutor(len(services)) as pool:
            for started in [pool.submit(start, *service, port=ports.get(service[0])) for service in services]:
                started.result()
        start("edge", "edge")  # after the services it calls

    async def _measure(self) -> None:
        # The bench acts as every account it drives, as an operator would.
        operator = [AioBearerInterceptor(OperatorCredentials(self.settings).bearer)]
        async with (
            grpc.aio.insecure_channel(self.settings.graph_addr, interceptors=operator) as graph_channel,
            grpc.aio.insecure_channel(self.settings.post_addr, interceptors=operator) as post_channel,
            grpc.aio.insecure_channel(self.settings.timeline_addr, interceptors=operator) as timeline_channel,
        ):
            self.graph_api = graph_service_pb2_grpc.GraphServiceStub(graph_channel)
            self.post_api = post_service_pb2_grpc.PostServiceStub(post_channel)
            self.timeline_api = timeline_service_pb2_grpc.TimelineServiceStub(timeline_channel)
            self.session = await CassandraSession.connect(self.settings)
            self.lag = ConsumerLag(self.settings.kafka_bootstrap)
            await self.lag.start()
            try:
                await self._populate()
                await self._baselines()
                await self._ingest_and_fanout()
                await self._freshness()
                await self._home_reads()
                await self._returning_readers()
                await self._mixed()
                await self._edge()
                await self._follows()
                await self._rebuild()
                await search_phase.run(self)
                await self._trends()
                await self._notification_groups()
                await self._big_account()
            finally:
                await self.lag.stop()
                self.session.shutdown()

    # -- setup ----------------------------------------------------------------------------------------------
    async def _populate(self) -> None:
        """Accounts and the follow graph through the graph API, concurrently; then wait for the projection."""
        self._phase("setup")
        graph = self.graph
        self.user_ids = [0] * graph.size

        async def create(index: int) -> None:
            # With a request id, so that a retry after a timeout gets the account, not HANDLE_TAKEN.
            request = graph_pb.CreateUserRequest(
                handle=graph.handles[index], display_name=graph.names[index], request_id=f"bench-user-{index}"
            )
            response = await self.graph_api.CreateUser(request, timeout=RPC_TIMEOUT)
            self.user_ids[index] = response.user.user_id

        async def follow(edge: tuple[int, int]) -> None:
            follower, followee = edge
            await self.graph_api.FollowUser(
                graph_pb.FollowUserRequest(follower_id=self.user_ids[follower], followee_id=self.user_ids[followee]),
                timeout=RPC_TIMEOUT,
            )

        began = time.monotonic()
        await self._bounded("creating users", range(graph.size), create)
        users_done = time.monotonic()
        if self.plan.follows_through == "log":
            await self._import_follows()
        else:
            await self._bounded("following", graph.follows, follow)
        follows_done = time.monotonic()
        await self._caught_up("projections catching up", self.projection_groups())
        counts = sorted((len(f) for f in self.followers), reverse=True)
        self.results["workload"] = {
            "users": graph.size,
            "follows": len(graph.follows),
            "followers_max": counts[0],
            "followers_median": statistics.median(counts),
            "followers_top10": counts[:10],
            "fanout_threshold": self.threshold,
            "accounts_above_threshold": len(self.celebrities),
            "users_per_second": round(graph.size / (users_done - began), 1),
            "follows_per_second": round(len(graph.follows) / (follows_done - users_done), 1),
            "follows_through": self.plan.follows_through,
            "setup_seconds": round(time.monotonic() - began, 1),
        }

    async def _import_follows(self) -> None:
        """The follow graph as UserFollowed events, built by the graph service's own code and written to its topic
        as the graph service would (keyed by follower, acks=all). The projections apply them as any follow; the
        graph service's own follow tables stay empty, which no measured operation reads. FollowUser runs at
        under 100/s on the 2-core machine, so tens of thousands of follows through it would take the whole
        budget of the run."""
        publisher = EventPublisher(self.settings.kafka_bootstrap, "chirp-bench-import")
        await publisher.start()
        topic = self.settings.topic(GRAPH_EVENTS.name)
        task = self.progress.add_task("following (imported)", total=len(self.graph.follows))
        try:
            for start in range(0, len(self.graph.follows), 2000):
                chunk = self.graph.follows[start : start + 2000]
                now = datetime.now(UTC)
                followed = [(self.user_ids[a], Follow(self.user_ids[a], self.user_ids[b], now)) for a, b in chunk]
                await _publish_chunk(publisher, topic, [(key, user_followed(follow)) for key, follow in followed])
                self.progress.advance(task, len(chunk))
        finally:
            await publisher.stop()

    async def _bounded(self, what: str, items: Iterable, action: Callable[[object], Awaitable[None]]) -> None:
        """Run `action` over `items` with `setup_concurrency` in flight, retrying transient failures."""
        items = list(items)
        task = self.progress.add_task(what, total=len(items))
        queue = iter(items)

        async def worker() -> None:
            for item in queue:
                for attempt in range(SETUP_ATTEMPTS):
                    try:
                        await action(item)
                        break
                    except grpc.aio.AioRpcError as error:
                        # A retry that finds its first attempt still running (REQUEST_IN_PROGRESS) waits, too.
                        transient = (
                            error.code()
                            in (
                                grpc.StatusCode.UNAVAILABLE,
                                grpc.StatusCode.DEADLINE_EXCEEDED,
                            )
                            or error_reason(error) == "REQUEST_IN_PROGRESS"
                        )
                        if not transient or attempt == SETUP_ATTEMPTS - 1:
                            raise
                        await asyncio.sleep(min(5.0, 0.5 * (attempt + 1)))
                self.progress.advance(task)

        await asyncio.gather(*(worker() for _ in range(self.plan.setup_concurrency)))

    async def _caught_up(self, what: str, groups: list[str] | None = None, timeout: float = 900) -> float:
        """Wait until the consumer groups (the timeline worker's by default) have no lag; returns the seconds waited."""
        task = self.progress.add_task(what, total=None)
        began = time.monotonic()
        while (lag := await self._lag(groups or [self.timeline_group()])) > 0:
            self.progress.update(task, description=f"{what} (lag {lag})")
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"the projections still lag by {lag} after {timeout}s")
            await asyncio.sleep(0.25)
        self.progress.update(task, total=1, completed=1)
        return time.monotonic() - began

    async def _lag(self, groups: list[str]) -> int:
        """Events the groups have yet to commit, each over the topics it reads."""
        return sum([await self.lag.of(group, self.partitions_of(group)) for group in groups])

    def partitions_of(self, group: str) -> list[TopicPartition]:
        """Every partition the group's projection reads (a group's lag on a topic it does not read would never
        drop: it commits nothing there)."""
        if group == self.graph_group():
            return [TopicPartition(topic, p) for topic, p in _partitions(GRAPH_PROJECTION.topics, self.settings)]
        if group == self.settings.consumer_group("notification"):
            return [TopicPartition(topic, p) for topic, p in _partitions(NOTIFICATION.topics, self.settings)]
        return self.topics()

    def timeline_group(self) -> str:
        return self.settings.consumer_group("timeline")

    def graph_group(self) -> str:
        """The graph's projection (the counts)."""
        return self.settings.consumer_group(GRAPH_PROJECTION.group_name)

    def projection_groups(self) -> list[str]:
        return [self.timeline_group()] + (
            [self.settings.consumer_group("notification")] if self.with_notification else []
        )

    def topics(self) -> list[TopicPartition]:
        """Every partition the timeline projection reads."""
        return [TopicPartition(topic, p) for topic, p in _partitions(TIMELINE.topics, self.settings)]

    # -- operations -----------------------------------------------------------------------------------------
    def _post_request(self, author: int) -> post_pb.CreatePostRequest:
        return post_pb.CreatePostRequest(author_id=self.user_ids[author], text=self.texts.draw())

    async def _create_post(self, author: int) -> post_pb.CreatePostResponse:
        return await self.post_api.CreatePost(self._post_request(author), timeout=RPC_TIMEOUT)

    async def _read_home(self, user: int, page_size: int = 20) -> timeline_pb.GetHomeTimelineResponse:
        return await self.timeline_api.GetHomeTimeline(
            timeline_pb.GetHomeTimelineRequest(user_id=self.user_ids[user], page_size=page_size), timeout=RPC_TIMEOUT
        )

    async def _read_user(self, user: int) -> timeline_pb.GetUserTimelineResponse:
        return await self.timeline_api.GetUserTimeline(
            timeline_pb.GetUserTimelineRequest(user_id=self.user_ids[user], page_size=20), timeout=RPC_TIMEOUT
        )

    def _random_user(self) -> int:
        return self.rng.randrange(self.graph.size)

    # -- baselines ------------------------------------------------------------------------------------------
    async def _baselines(self) -> None:
        """B1-B3 on the idle system; B4 runs later, at the home-read rate it is compared with."""
        self._phase("baselines")
        samples = [await self._create_post(self.authors.draw()) for _ in range(20)]
        request_bytes = round(
            statistics.mean(len(self._post_request(self.authors.draw()).SerializeToString()) for _ in range(200))
        )
        response_bytes = round(statistics.mean(len(s.SerializeToString()) for s in samples))
        event_bytes = round(statistics.mean(len(post_events.post_created(s.post).SerializeToString()) for s in samples))
        plan = self.plan
        task = self.progress.add_task("baselines B1-B3", total=3)
        b1 = await baselines.kafka_producer(self.settings, event_bytes, plan.concurrency, plan.baseline_seconds)
        self.progress.advance(task)
        echo_port = free_port()
        b2 = await baselines.grpc_echo(
            echo_port, request_bytes, response_bytes, plan.concurrency, plan.baseline_seconds
        )
        self.progress.advance(task)
        self.scratch = baselines.ScratchTable(self.settings)
        await self.scratch.create(self.session)
        self.scratch_partitions = min(self.graph.size, 2000)
        b3 = await self.scratch.inserts(self.session, self.scratch_partitions, plan.baseline_seconds)
        self.progress.advance(task)
        self.results["baselines"] = {
            "sizes": {
                "create_post_request": request_bytes,
                "create_post_response": response_bytes,
                "post_created_event": event_bytes,
            },
            "b1_kafka_producer": {**b1.summary(), "concurrency": plan.concurrency},
            "b2_grpc_echo": {**b2.summary(), "concurrency": plan.concurrency},
            "b3_cassandra_inserts": {**b3, "concurrency": baselines.CASSANDRA_CONCURRENCY},
        }

    # -- ingest and fan-out ---------------------------------------------------------------------------------
    async def _ingest_and_fanout(self) -> None:
        """Posts go in while the timeline worker is held (so ingest is measured alone and a backlog builds), then
        the worker starts and the backlog's drain is timed through its consumer group's lag."""
        plan = self.plan
        await self._caught_up("timeline before ingest")
        rows_before = await self._count_rows(self.settings.keyspace("timeline"))
        self.system.kill("timeline-worker", signal.SIGTERM)
        self._phase("ingest")
        task = self.progress.add_task("ingest capacity", total=None)
        capacity = await closed_loop(
            plan.concurrency,
            plan.capacity_seconds,
            lambda i: self._create_post(self.authors.draw()),
            tick=lambda: self.progress.advance(task),
        )
        offsets = poisson_offsets(plan.ingest_rate, plan.ingest_seconds, self.rng)
        task = self.progress.add_task(f"ingest at {plan.ingest_rate:g}/s", total=len(offsets))
        steady = await open_loop(
            offsets, lambda i: self._create_post(self.authors.draw()), tick=lambda: self.progress.advance(task)
        )
        self.results["ingest"] = {
            "capacity": {**capacity.summary(), "concurrency": plan.concurrency},
            "open_loop": {**steady.summary(), "offered_rate": plan.ingest_rate},
        }

        self._phase("fanout")
        backlog = await self.lag.of(self.timeline_group(), self.topics())
        task = self.progress.add_task("fan-out drain", total=backlog)
        restart = asyncio.create_task(asyncio.to_thread(self._start_worker))
        began = time.monotonic()
        # The drain runs from the last poll that still saw the whole backlog to the first that sees none: at most
        # two poll intervals (and the worker's 0.5 s commit interval) longer than the truth, never shorter.
        last_full, lag = began, backlog
        while lag > 0:
            await asyncio.sleep(LAG_POLL_SECONDS)
            lag = await self.lag.of(self.timeline_group(), self.topics())
            if lag >= backlog:
                last_full = time.monotonic()
            self.progress.update(task, completed=backlog - lag)
        drained = time.monotonic()
        await restart
        rows = await self._count_rows(self.settings.keyspace("timeline")) - rows_before
        seconds = drained - last_full
        self.results["fanout"] = {
            "backlog_events": backlog,
            "home_rows": rows,
            "seconds": round(seconds, 2),
            "worker_start_seconds": round(last_full - began, 2),
            "rows_per_second": round(rows / seconds, 1) if seconds else 0.0,
            "events_per_second": round(backlog / seconds, 1) if seconds else 0.0,
        }

    def _start_worker(self, label: str = "timeline-worker", phase: str = "fanout") -> None:
        """Start a held worker again, on its own port, and profile it in `phase`."""
        process = self.system.start(
            WORKERS[label], "--role", "worker", port=self.worker_ports[label], label=label, timeout=WORKER_START_SECONDS
        )
        self.monitor.watch(label, process.pid)
        self.profiler.start(phase, {label: process.pid})

    async def _count_rows(self, keyspace: str, table: str = "home_entries") -> int:
        statement = SimpleStatement(f"SELECT COUNT(*) FROM {keyspace}.{table}")
        result = await asyncio.to_thread(self.session._session.execute, statement, timeout=600)
        return result.one()[0]

    # -- freshness ------------------------------------------------------------------------------------------
    async def _freshness(self) -> None:
        """Posts at a steady rate; for a sample, a follower polls its home timeline until the post is there."""
        plan = self.plan
        self._phase("freshness")
        fresh, celebrity = Latencies(), Latencies()
        watches: set[asyncio.Task] = set()
        loop = asyncio.get_running_loop()
        watch_share = min(1.0, WATCHED_PER_SECOND / plan.freshness_rate)

        async def watch(reader: int, post_id: int, answered: float, into: Latencies) -> None:
            while (waited := loop.time() - answered) < FRESHNESS_GIVE_UP_SECONDS:
                try:
                    page = await self._read_home(reader, page_size=5)
                except grpc.aio.AioRpcError:
                    page = None  # an overloaded read is a missed look, not the end of the watch
                if page and any(item.post_id == post_id for item in page.posts):
                    into.record(loop.time() - answered)
                    return
                await asyncio.sleep(min(FRESHNESS_MAX_POLL_SECONDS, max(FRESHNESS_FIRST_POLL_SECONDS, waited / 10)))
            into.record(loop.time() - answered, ok=False)
            into.failed(TimeoutError("not readable"))

        def post_and_watch(author_of: Callable[[], int], into: Latencies, share: float):
            async def operation(index: int) -> None:
                author = author_of()
                response = await self._create_post(author)
                capped = share < 1 and len(watches) >= MAX_WATCHES  # every post above the threshold is watched
                if self.followers[author] and self.rng.random() < share and not capped:
                    reader = self.rng.choice(self.followers[author])
                    task = asyncio.create_task(watch(reader, response.post.post_id, loop.time(), into))
                    watches.add(task)
                    task.add_done_callback(watches.discard)

            return operation

        offsets = poisson_offsets(plan.freshness_rate, plan.freshness_seconds, self.rng)
        # At least one post above the threshold, however short the phase.
        celebrity_offsets = (
            (poisson_offsets(plan.celebrity_rate, plan.freshness_seconds, self.rng) or [0.0])
            if self.celebrities
            else []
        )
        task = self.progress.add_task(
            f"freshness at {plan.freshness_rate:g}/s", total=len(offsets) + len(celebrity_offsets)
        )
        tick = lambda: self.progress.advance(task)  # noqa: E731
        posting, celebrity_posting = await asyncio.gather(
            open_loop(offsets, post_and_watch(self.authors.draw, fresh, watch_share), tick=tick),
            open_loop(
                celebrity_offsets, post_and_watch(lambda: self.rng.choice(self.celebrities), celebrity, 1.0), tick=tick
            ),
        )
        while watches:
            await asyncio.wait(set(watches))
        self.results["freshness"] = {
            "offered_rate": plan.freshness_rate,
            "create_post": posting.summary(),
            "home_visible": fresh.summary(),
            "above_threshold": {**celebrity.summary(), "create_post": celebrity_posting.summary()},
            "poll_interval_ms": [FRESHNESS_FIRST_POLL_SECONDS * 1000, FRESHNESS_MAX_POLL_SECONDS * 1000],
        }

    # -- reads ----------------------------------------------------------------------------------------------
    async def _home_reads(self) -> None:
        """Home-timeline reads at a ladder of rates; the highest with p99 under 100 ms; then, at half of it, the
        same reads and B4's raw reads, for the ratio."""
        self._phase("home_reads")
        ladder = await self._ladder(
            "home reads", self.plan.read_rates, self.plan.read_seconds, lambda i: self._read_home(self._random_user())
        )
        sustainable = [step["offered_rate"] for step in ladder if _sustainable(step)]
        highest = max(sustainable, default=0.0)
        half = highest / 2 if highest else self.plan.read_rates[0] / 2
        at_half = (
            await self._ladder(
                "home reads at half", (half,), self.plan.read_seconds, lambda i: self._read_home(self._random_user())
            )
        )[0]
        task = self.progress.add_task("baseline B4", total=None)
        b4 = await self.scratch.reads(self.session, self.scratch_partitions, half, self.plan.read_seconds)
        self.progress.update(task, total=1, completed=1)
        self.results["home_reads"] = {
            "ladder": ladder,
            "highest_sustainable_rate": highest,
            "at_half": at_half,
            "statements": await self._home_page_statements(),
        }
        self.results["baselines"]["b4_cassandra_reads"] = {**b4.summary(), "offered_rate": half}

    async def _home_page_statements(self) -> dict:
        """The statements one 20-item home page runs, counted in this process on the same tables: first with
        nothing in memory, then the same page again with the posts and people in memory (the API process's
        hydration cache, as it answers while its tail follows the log)."""
        keyspace = self.settings.keyspace("timeline")  # version 1: the rebuild phase comes later
        counting = CountingSession(self.session)
        api = TimelineApi(
            Fixed(TimelineRepository(counting, keyspace)),
            ReaderState(counting, keyspace),
            graph=None,
            cache=HydrationCache(10_000, 10_000, following=lambda: True),
        )
        following = Counter(follower for follower, _ in self.graph.follows)
        reader = following.most_common(1)[0][0]  # the fullest home timeline
        request = timeline_pb.GetHomeTimelineRequest(user_id=self.user_ids[reader], page_size=20)
        figures = {}
        for label in ("cold", "from_memory"):
            counting.selects = counting.rows = 0
            page = await api.GetHomeTimeline(request, None)
            figures[label] = {"statements": counting.selects, "rows_read": counting.rows, "items": len(page.posts)}
        return figures

    async def _returning_readers(self) -> None:
        """Readers who follow RETURNING_FOLLOWS accounts come back from inactivity: the time of their first page
        (their rows are rebuilt after it, in the background), then of the rebuild, then of a page from the rows."""
        self._phase("returning")
        following = min(RETURNING_FOLLOWS, self.graph.size)
        readers: list[int] = []

        async def create(index: int) -> None:
            request = graph_pb.CreateUserRequest(handle=f"back_{index}_{self.rng.randrange(10**6)}")
            readers.append((await self.graph_api.CreateUser(request, timeout=RPC_TIMEOUT)).user.user_id)

        await self._bounded("returning readers", range(self.plan.returning_readers), create)
        publisher = EventPublisher(self.settings.kafka_bootstrap, "chirp-bench-returning")
        await publisher.start()
        try:
            now = datetime.now(UTC)
            for reader in readers:
                followees = self.rng.sample(self.user_ids, following)
                topic = self.settings.topic(GRAPH_EVENTS.name)
                await asyncio.gather(
                    *(publisher.publish(topic, reader, user_followed(Follow(reader, f, now))) for f in followees)
                )
        finally:
            await publisher.stop()
        await self._caught_up("returning readers' follows")
        keyspace = self.settings.keyspace("timeline")
        readers_state, repo = ReaderState(self.session, keyspace), TimelineRepository(self.session, keyspace)
        away_since = int(time.time() * 1000) - 40 * 86_400_000
        for reader in readers:
            await readers_state.mark_inactive(reader, await repo.followee_ids(reader), away_since)
        first, rebuilt, after = Latencies(), [], Latencies()
        for reader in readers:
            began = time.perf_counter()
            page = await self.timeline_api.GetHomeTimeline(
                timeline_pb.GetHomeTimelineRequest(user_id=reader, page_size=20), timeout=RPC_TIMEOUT
            )
            first.record(time.perf_counter() - began, bool(page.posts))
            while (await readers_state.activity(reader)).rebuild_pending:
                await asyncio.sleep(0.05)
            rebuilt.append(time.perf_counter() - began)
            began = time.perf_counter()
            await self.timeline_api.GetHomeTimeline(
                timeline_pb.GetHomeTimelineRequest(user_id=reader, page_size=20), timeout=RPC_TIMEOUT
            )
            after.record(time.perf_counter() - began)
        self.results["returning"] = {
            "readers": len(readers),
            "following": following,
            "first_page": first.summary(),
            "rebuilt_seconds": {"median": round(statistics.median(rebuilt), 2), "max": round(max(rebuilt), 2)},
            "page_after_rebuild": after.summary(),
        }

    async def _mixed(self) -> None:
        """DeathStarBench-like mix (60% home reads, 30% user-timeline reads, 10% posts) at a ladder of rates."""
        self._phase("mixed")
        kinds = operation_mix(int(max(self.plan.mixed_rates) * self.plan.mixed_seconds * 2), self.rng)
        operations = {
            "home": lambda: self._read_home(self._random_user()),
            "user": lambda: self._read_user(self.authors.draw()),
            "post": lambda: self._create_post(self.authors.draw()),
        }
        kind_of = lambda i: kinds[i % len(kinds)]  # noqa: E731
        self.results["mixed"] = {
            "ladder": await self._ladder(
                "mixed", self.plan.mixed_rates, self.plan.mixed_seconds, lambda i: operations[kind_of(i)](), kind_of
            )
        }

    async def _edge(self) -> None:
        """The edge against gRPC in the same run, for the same people, each way with the person's own credential: the
        home timeline (GET /api/v1/timelines/home against GetHomeTimeline) and posting (POST /api/v1/statuses
        against CreatePost). HTTP rates climb a ladder to the highest the edge keeps up with (_keeps_up); at half of
        it both ways run in alternating one-second slices, so the machine's other load falls on both alike, and the
        edge's cost is the difference of their p99s. Each slice also counts what its requests cost: the calls each
        service answered, the edge's token checks, and the CPU each process used, per request."""
        plan = self.plan
        self._phase("edge")
        settings = self.settings
        async with (
            edge.client(self.system.edge_url) as http,
            grpc.aio.insecure_channel(settings.identity_addr) as identity_channel,
            grpc.aio.insecure_channel(settings.post_addr) as post_channel,
            grpc.aio.insecure_channel(settings.timeline_addr) as timeline_channel,
        ):
            people = await edge.sign_up(http, plan.edge_people, f"edge{self.rng.randrange(10**6)}x")
            popular = sorted(range(self.graph.size), key=lambda u: len(self.followers[u]), reverse=True)
            authors = [self.user_ids[u] for u in popular[: plan.edge_follows]]
            await asyncio.gather(*(edge.follow(http, person, authors) for person in people))
            for author in popular[: plan.edge_follows]:  # something in every home timeline
                for _ in range(3):
                    await self._create_post(author)
            await self._caught_up("edge: homes filled")
            identity = identity_service_pb2_grpc.IdentityServiceStub(identity_channel)
            post_api = post_service_pb2_grpc.PostServiceStub(post_channel)
            timeline_api = timeline_service_pb2_grpc.TimelineServiceStub(timeline_channel)
            metadata: dict[int, tuple[tuple[str, str], ...]] = {}

            async def credentials() -> None:
                found = await asyncio.gather(*(edge.credential(identity, person) for person in people))
                metadata.update(zip((person.user_id for person in people), found, strict=True))

            def anyone() -> edge.EdgePerson:
                return self.rng.choice(people)

            async def grpc_home(index: int):
                person = anyone()
                request = timeline_pb.GetHomeTimelineRequest(user_id=person.user_id, page_size=20)
                return await timeline_api.GetHomeTimeline(
                    request, metadata=metadata[person.user_id], timeout=RPC_TIMEOUT
                )

            async def grpc_post(index: int):
                person = anyone()
                request = post_pb.CreatePostRequest(author_id=person.user_id, text=self.texts.draw())
                return await post_api.CreatePost(request, metadata=metadata[person.user_id], timeout=RPC_TIMEOUT)

            operations = {
                "home": (lambda i: edge.read_home(http, anyone()), grpc_home),
                "post": (lambda i: edge.post(http, anyone(), self.texts.draw()), grpc_post),
            }
            self.results["edge"] = {"people": len(people), "follows_each": len(authors)}
            for name, (over_http, over_grpc) in operations.items():
                ladder = await self._edge_ladder(f"edge {name} over HTTP", over_http)
                highest = max((step["offered_rate"] for step in ladder if _keeps_up(step)), default=0.0)
                half = max(highest / 2, MIN_EDGE_RATE)
                await credentials()  # they live 5 minutes
                compared = await self._interleaved(
                    f"edge {name} at {half:g}/s",
                    half,
                    plan.edge_compare_seconds,
                    {"http": over_http, "grpc": over_grpc},
                )
                http_at_half, grpc_at_half = compared["http"]["latency"], compared["grpc"]["latency"]
                self.results["edge"][name] = {
                    "ladder": ladder,
                    "highest_sustainable_rate": highest,
                    "grpc_at_half": grpc_at_half,
                    "http_at_half": http_at_half,
                    "per_request": {way: compared[way]["per_request"] for way in compared},
                    "added_p50_ms": round(http_at_half["p50_ms"] - grpc_at_half["p50_ms"], 3),
                    "added_p99_ms": round(http_at_half["p99_ms"] - grpc_at_half["p99_ms"], 3),
                }

    async def _edge_ladder(self, what: str, operation) -> list[dict]:
        """HTTP rates up the plan's ladder until one the edge does not keep up with; when it keeps up with none, down
        from the lowest by halves until one it does (or MIN_EDGE_RATE): a busy machine still gets a rate to
        compare at, and the ladder says how it was found."""
        plan = self.plan
        steps: list[dict] = []
        for rate in plan.edge_rates:
            [step] = await self._ladder(what, (rate,), plan.edge_seconds, operation)
            steps.append(step)
            if not _keeps_up(step):
                break
        rate = plan.edge_rates[0]
        while not any(_keeps_up(step) for step in steps) and rate / 2 >= MIN_EDGE_RATE:
            rate /= 2
            steps += await self._ladder(what, (rate,), plan.edge_seconds, operation)
        return steps

    async def _interleaved(self, what: str, rate: float, seconds: float, ways: dict) -> dict:
        """Each way of `ways` in turn for EDGE_SLICE_SECONDS at a time, open loop at `rate`, until each has run for
        `seconds`: one latency histogram per way, and per request the calls each service answered and the CPU
        milliseconds each process used (read before and after each slice, once its requests have all ended)."""
        slices = max(1, round(seconds / EDGE_SLICE_SECONDS))
        found = {way: {"latency": Latencies(), "requests": 0, "rpcs": {}, "cpu": {}} for way in ways}
        task = self.progress.add_task(what, total=slices * len(ways))
        for _ in range(slices):
            for way, operation in ways.items():
                offsets = poisson_offsets(rate, EDGE_SLICE_SECONDS, self.rng)
                rpcs_before, cpu_before = self._served(), self.monitor.cpu_seconds()
                latencies = await open_loop(offsets, operation)
                rpcs_after, cpu_after = self._served(), self.monitor.cpu_seconds()
                into = found[way]
                into["latency"].add(latencies)
                into["requests"] += len(offsets)
                for key, count in rpcs_after.items():
                    if count - rpcs_before.get(key, 0):
                        into["rpcs"][key] = into["rpcs"].get(key, 0) + count - rpcs_before.get(key, 0)
                for label, used in cpu_after.items():
                    if label in cpu_before and label in EDGE_PATH:
                        into["cpu"][label] = into["cpu"].get(label, 0.0) + used - cpu_before[label]
                self.progress.advance(task)
        answer = {}
        for way, into in found.items():
            requests = max(1, into["requests"])
            answer[way] = {
                "latency": {**into["latency"].summary(), "offered_rate": rate},
                "per_request": {
                    "requests": into["requests"],
                    "rpcs": {key: round(count / requests, 3) for key, count in sorted(into["rpcs"].items())},
                    "cpu_ms": {label: round(1000 * used / requests, 3) for label, used in into["cpu"].items()},
                },
            }
        return answer

    def _served(self) -> dict[str, float]:
        """What each API process and the edge have counted so far, as "process.Method" (calls answered) and
        "edge.token <answer>" (token checks)."""
        return {
            f"{label}.{key}": count
            for label, port in self.metrics_ports.items()
            for key, count in counted(port).items()
        }

    async def _ladder(self, what: str, rates: Iterable[float], seconds: float, operation, kind_of=None) -> list[dict]:
        """Open-loop steps at rising rates; stops once a step is hopeless (higher rates would only queue more)."""
        steps = []
        for rate in rates:
            offsets = poisson_offsets(rate, seconds, self.rng)
            task = self.progress.add_task(f"{what} at {rate:g}/s", total=len(offsets))
            latencies = await open_loop(
                offsets, operation, tick=lambda task=task: self.progress.advance(task), kind_of=kind_of
            )
            steps.append({**latencies.summary(), "offered_rate": rate})
            if steps[-1]["p99_ms"] > HOPELESS_P99_MS:
                break
        return steps

    # -- follows --------------------------------------------------------------------------------------------
    async def _follows(self) -> None:
        """FollowUser back to back through the API (closed loop, `concurrency` callers) between random pairs of
        accounts, with the projection workers held so that the API is measured alone, as ingest is: first without
        request ids (no claim is made), then with a request id each (claimed with a lightweight transaction). Then
        the workers start again, and the time until every follow is projected (counts, timelines) is measured."""
        plan = self.plan
        await self._caught_up("projections before follows", [*self.projection_groups(), self.graph_group()])
        for label in WORKERS:
            self.system.kill(label, signal.SIGTERM)
        self._phase("follows")

        def follow(with_request_id: bool) -> Callable[[int], Awaitable[object]]:
            async def operation(index: int) -> None:
                follower, followee = self.rng.sample(self.user_ids, 2)
                request = graph_pb.FollowUserRequest(
                    follower_id=follower, followee_id=followee, request_id=str(uuid.uuid4()) if with_request_id else ""
                )
                await self.graph_api.FollowUser(request, timeout=RPC_TIMEOUT)

            return operation

        measured = {}
        for name, with_request_id in (("without_request_id", False), ("with_request_id", True)):
            task = self.progress.add_task(f"FollowUser, {name.replace('_', ' ')}", total=None)
            calls = await closed_loop(
                plan.concurrency,
                plan.follow_seconds,
                follow(with_request_id),
                tick=lambda task=task: self.progress.advance(task),
            )
            measured[name] = {**calls.summary(), "concurrency": plan.concurrency}

        self.results["follows"] = measured
        self._phase("follow_drain")
        groups = [*self.projection_groups(), self.graph_group()]
        backlog = await self._lag(groups)
        task = self.progress.add_task("follows: projections drain", total=backlog)
        began = time.monotonic()
        await asyncio.gather(*(asyncio.to_thread(self._start_worker, label, "follow_drain") for label in WORKERS))
        started = time.monotonic()
        while (lag := await self._lag(groups)) > 0:
            self.progress.update(task, completed=backlog - lag)
            await asyncio.sleep(LAG_POLL_SECONDS)
        self.results["follows"] = {
            **measured,
            "backlog_events": backlog,
            "workers_start_seconds": round(started - began, 2),
            "drain_seconds": round(time.monotonic() - started, 2),
        }

    # -- rebuild --------------------------------------------------------------------------------------------
    async def _rebuild(self) -> None:
        """The replay `chirp projections rebuild timeline` runs (services.runtime.projection.rebuild), in this process
        so that the replay itself is timed: from its first progress report (the new version's tables exist) to its last.
        Its rate is the rows it wrote, in all the projection's main tables, per second."""
        self._phase("rebuild")
        await self._caught_up("timeline before rebuild")
        self.profiler.start("rebuild", {"rebuild (bench process)": os.getpid()})
        task = self.progress.add_task("rebuild: replaying", total=None)
        reports: list[tuple[float, int, int]] = []

        def progress(done: int, total: int) -> None:
            reports.append((time.monotonic(), done, total))
            self.progress.update(task, completed=done, total=total)

        began = time.monotonic()
        replay = asyncio.create_task(rebuild(self.settings, TIMELINE, progress))  # what the command runs
        while not replay.done() and not (reports and time.monotonic() - reports[0][0] > self.plan.rebuild_seconds):
            await asyncio.sleep(0.2)
        completed = replay.done()
        replay.cancel()  # a replay stopped half-way never serves: its version is not named in the registry
        await asyncio.gather(replay, return_exceptions=True)
        if completed:
            replay.result()  # a failed rebuild fails the run
        total_seconds = time.monotonic() - began
        seconds = reports[-1][0] - reports[0][0]
        events, to_replay = reports[-1][1], max(total for _, _, total in reports)
        # Every row the replay wrote in the projection's main tables: a replay stopped early may have reached only
        # users and follows (graph events come first in the log), which write no home rows yet.
        keyspace = keyspace_of(self.settings, "timeline", 2)
        counted = {table: await self._count_rows(keyspace, table) for table in REBUILT_TABLES}
        rows = sum(counted.values())
        self.results["rebuild"] = {
            "completed": completed,
            "events_to_replay": to_replay,
            "events": events,
            "rows": counted,
            "home_rows": counted["home_entries"],
            "seconds": round(seconds, 2),
            "seconds_with_migrations": round(total_seconds, 2),
            "rows_per_second": round(rows / seconds, 1) if seconds else 0.0,
            "events_per_second": round(events / seconds, 1) if seconds else 0.0,
        }

    async def _notification_groups(self) -> None:
        """ListNotifications of an author whose post was liked `notification_likes` times, against one whose post was
        liked once: latency through the API, and the statements and rows the listing reads (counted in this
        process, on the same tables), with the tombstones Cassandra steps over in the feed slice (from its trace).
        The likes are PostLiked events written to the post topic as the post service would (keyed by the author),
        one millisecond apart, by accounts that exist only in them: LikePost at 10,000 calls would take minutes.
        Last, so that its events are in no other phase's replay; the notification service is started for it when
        the run did not have it."""
        self._phase("notification_groups")
        if not self.with_notification:
            process = await asyncio.to_thread(self.system.start, "notification", label="notification")
            self.monitor.watch("notification", process.pid)
        big, small = [
            (await self.graph_api.CreateUser(graph_pb.CreateUserRequest(handle=handle), timeout=RPC_TIMEOUT)).user
            for handle in (f"liked_{self.rng.randrange(10**6)}", f"liked1_{self.rng.randrange(10**6)}")
        ]
        posts = {}
        for author in (big, small):
            request = post_pb.CreatePostRequest(author_id=author.user_id, text="like this")
            posts[author.user_id] = (await self.post_api.CreatePost(request, timeout=RPC_TIMEOUT)).post.post_id
        likes = {big.user_id: self.plan.notification_likes, small.user_id: 1}
        publisher = EventPublisher(self.settings.kafka_bootstrap, "chirp-bench-likes")
        await publisher.start()
        task = self.progress.add_task("likes (imported)", total=sum(likes.values()))
        topic = self.settings.topic(POST_EVENTS.name)
        try:
            start_ms = now_ms()
            for author, count in likes.items():
                for first in range(0, count, 2000):
                    fans = range(first, min(count, first + 2000))
                    likes_of = [(author, _like(posts[author], author, FAN_IDS + fan, start_ms + fan)) for fan in fans]
                    await _publish_chunk(publisher, topic, likes_of)
                    self.progress.advance(task, len(fans))
        finally:
            await publisher.stop()
        await self._caught_up("notifications catching up", [self.settings.consumer_group("notification")])
        keyspace = self.settings.keyspace("notification")  # version 1: the bench rebuilds only the timeline
        operator = [AioBearerInterceptor(OperatorCredentials(self.settings).bearer)]
        figures = {}
        async with grpc.aio.insecure_channel(self.settings.notification_addr, interceptors=operator) as channel:
            api = notification_service_pb2_grpc.NotificationServiceStub(channel)
            for label, author in (("many", big.user_id), ("one", small.user_id)):
                request = notification_pb.ListNotificationsRequest(user_id=author, page_size=20)
                latencies = Latencies()
                first = await api.ListNotifications(request, timeout=RPC_TIMEOUT)
                for _ in range(NOTIFICATION_READS):
                    began = time.perf_counter()
                    await api.ListNotifications(request, timeout=RPC_TIMEOUT)
                    latencies.record(time.perf_counter() - began)
                counting = CountingSession(self.session)
                local = NotificationApi(Fixed(NotificationRepository(counting, keyspace, keyspace)), None, None, "")
                await local.ListNotifications(request, None)
                figures[label] = {
                    "likes": likes[author],
                    "notifications": len(first.notifications),
                    "actor_count": first.notifications[0].actor_count if first.notifications else 0,
                    "latency": latencies.summary(),
                    "statements": counting.selects,
                    "rows_read": counting.rows,
                    "feed_tombstones": await self._feed_tombstones(keyspace, author),
                }
        self.results["notification_groups"] = figures

    async def _feed_tombstones(self, keyspace: str, recipient: int) -> int | None:
        """Tombstones Cassandra stepped over reading the first page of a recipient's feed, from the query's trace
        (None when the trace did not say)."""
        statement = SimpleStatement(f"SELECT create_time FROM {keyspace}.group_feed WHERE recipient_id = %s LIMIT 21")
        result = await asyncio.to_thread(self.session._session.execute, statement, (recipient,), trace=True)
        trace = await asyncio.to_thread(result.get_query_trace, 10)
        found = [re.search(r"(\d+) tombstone", event.description or "") for event in trace.events or ()]
        counts = [int(match.group(1)) for match in found if match]
        return sum(counts) if counts else None

    # -- the big account ------------------------------------------------------------------------------------
    async def _big_account(self) -> None:
        """An account with `big_followers` followers: its follows are imported as UserFollowed events through the
        graph topic, in chunks, as _import_follows does (the followers are ids no account has: accounts' ids start
        above 2^22, and the counts need no account behind an edge), with the timeline worker (and notification)
        held: they would copy the account's posts into every new follower's home timeline, which is not what is
        measured. Timed: the import, then until GetUser counts every follower. Then GetUser one call at a time, every
        answer checked for the exact counts; beside it, COUNT(*) over the account's counted edges, the read GetUser
        made before counts were kept (one row per edge)."""
        followers = self.plan.big_followers
        if not followers:
            return
        self._phase("big_account")
        self.system.kill("timeline-worker", signal.SIGTERM)
        if "notification" in self.system.processes:  # run with the bench, or started for notification_groups
            self.system.kill("notification", signal.SIGTERM)
        account = (
            await self.graph_api.CreateUser(
                graph_pb.CreateUserRequest(handle=f"big_{self.rng.randrange(10**6)}"), timeout=RPC_TIMEOUT
            )
        ).user.user_id
        for followee in self.rng.sample(self.user_ids, 2):
            await self.graph_api.FollowUser(
                graph_pb.FollowUserRequest(follower_id=account, followee_id=followee), timeout=RPC_TIMEOUT
            )
        for index in range(3):
            await self.post_api.CreatePost(
                post_pb.CreatePostRequest(author_id=account, text=f"big account post {index}"), timeout=RPC_TIMEOUT
            )
        expected = graph_pb2.UserStats(follower_count=followers, following_count=2, post_count=3)

        began = time.monotonic()
        publisher = EventPublisher(self.settings.kafka_bootstrap, "chirp-bench-big-account")
        await publisher.start()
        topic = self.settings.topic(GRAPH_EVENTS.name)
        task = self.progress.add_task("big account: importing", total=followers)
        try:
            for start in range(1, followers + 1, BIG_ACCOUNT_CHUNK):
                chunk = range(start, min(start + BIG_ACCOUNT_CHUNK, followers + 1))
                now = datetime.now(UTC)
                await _publish_chunk(
                    publisher, topic, [(fan, user_followed(Follow(fan, account, now))) for fan in chunk]
                )
                self.progress.advance(task, len(chunk))
        finally:
            await publisher.stop()
        imported = time.monotonic()

        task = self.progress.add_task("big account: counting", total=followers)
        request = graph_pb.GetUserRequest(user_id=account)
        stats = graph_pb2.UserStats()
        while stats != expected:
            if time.monotonic() - imported > BIG_ACCOUNT_TIMEOUT_SECONDS:
                raise TimeoutError(f"the big account is counted at {stats} after {BIG_ACCOUNT_TIMEOUT_SECONDS}s")
            await asyncio.sleep(0.5)
            try:
                stats = (await self.graph_api.GetUser(request, timeout=RPC_TIMEOUT)).stats
            except grpc.aio.AioRpcError as error:
                # Counting takes minutes: a restart of Kafka or Cassandra meanwhile is waited out, as the
                # projection waits it out.
                if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
            self.progress.update(task, completed=stats.follower_count)
        counted = time.monotonic()
        self.progress.update(task, completed=followers)

        latencies = Latencies()
        for _ in range(BIG_ACCOUNT_READS):
            call_began = time.perf_counter()
            answer = await self.graph_api.GetUser(request, timeout=RPC_TIMEOUT)
            latencies.record(time.perf_counter() - call_began, ok=answer.stats == expected)

        statement = SimpleStatement(
            f"SELECT COUNT(*) FROM {self.settings.keyspace('graph')}.{COUNTS_TABLE} WHERE user_id = %s AND kind = %s"
            f" AND other_id > {COUNT_ROW}"
        )
        count_began = time.perf_counter()
        row = (
            await asyncio.to_thread(
                self.session._session.execute, statement, (account, CountKind.FOLLOWERS.value), timeout=600
            )
        ).one()
        count_seconds = time.perf_counter() - count_began
        self.results["big_account"] = {
            "followers": followers,
            "import_seconds": round(imported - began, 1),
            "counted_seconds": round(counted - imported, 1),
            "build_seconds": round(counted - began, 1),
            "get_user": latencies.summary(),
            "count_star_ms": round(count_seconds * 1000, 1),
            "count_star_rows": row[0],
        }

    # -- trends ---------------------------------------------------------------------------------------------
    async def _trends(self) -> None:
        """A trends service of its own, on topics and a keyspace of its own (bench/trends.py): how soon a spike of
        20 accounts on a new hashtag shows, and whether 500 sockpuppets on one hashtag ever reach the top 10."""
        self._phase("trends")
        settings = trends.trends_settings(self.settings, self.plan.trends_refresh_seconds)
        task = self.progress.add_task("trends", total=None)
        await trends.prepare(settings)
        port = free_port()
        process = await asyncio.to_thread(
            self.system.start, "trends", port=port, label="trends", env=trends.env_of(settings)
        )
        self.monitor.watch("trends", process.pid)
        self.profiler.start("trends", {"trends": process.pid})

        def report(text: str) -> None:
            self.progress.update(task, description=text[:28])
            self.progress.console.log(text)

        self.results["trends"] = await trends.measure(
            settings,
            f"127.0.0.1:{port}",
            self.plan.trends_spike_seconds,
            self.plan.trends_puppet_seconds,
            report,
            self.plan.trends_settle_seconds,
        )
        self.progress.update(task, total=1, completed=1)

    async def _drop_bench_data(self) -> None:
        """The baseline topic and the trends phase's topics; the scratch keyspace and the trends phase's go with
        the services' keyspaces (same prefix)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            ours = [
                baselines.baseline_topic(self.settings),
                *trends.topics_to_drop(trends.trends_settings(self.settings)),
            ]
            if [topic for topic in ours if topic in existing]:
                await admin.delete_topics([topic for topic in ours if topic in existing])
        finally:
            await admin.close()


# Synthetic likers: ids no account has (accounts' ids are time-ordered snowflakes, far larger).
FAN_IDS = 10**12
NOTIFICATION_READS = 30


def _like(post_id: int, author_id: int, fan: int, at_ms: int) -> post_pb2.PostEvent:
    return post_pb2.PostEvent(
        event_id=event_id_for("bench-like", post_id, fan),
        occurred_at=timestamp_from_ms(at_ms),
        post_liked=post_pb2.PostLiked(post_id=post_id, author_id=author_id, user_id=fan),
    )


class CountingSession:
    """A session that counts the reads it runs and the rows they return (listing runs no aggregates, so every row
    returned is one Cassandra read, tombstones aside)."""

    def __init__(self, session: CassandraSession) -> None:
        self._session = session
        self.selects = 0
        self.rows = 0

    async def execute(self, cql: str, params=None, **kwargs):
        rows = await self._session.execute(cql, params, **kwargs)
        if cql.lstrip().upper().startswith("SELECT"):
            self.selects += 1
            self.rows += len(rows)
        return rows


class Fixed:
    """One repository, served as the API expects (ServingRepository's `get`)."""

    def __init__(self, repository) -> None:
        self._repository = repository

    async def get(self):
        return self._repository


async def _publish_chunk(publisher: EventPublisher, topic: str, events: list[tuple[int, Message]]) -> None:
    """A chunk of imported events, all in flight at once, published whole again when Kafka did not take it in time
    (a loaded machine's broker has timed out on 10,000 at once) or was restarted meanwhile: the same events with
    the same ids, which every consumer drops as duplicates or applies idempotently."""
    for attempt in range(SETUP_ATTEMPTS):
        sent = await asyncio.gather(*(publisher.publish(topic, key, e) for key, e in events), return_exceptions=True)
        failed = [error for error in sent if isinstance(error, BaseException)]
        if not failed:
            return
        if not all(is_infrastructure_error(error) for error in failed) or attempt == SETUP_ATTEMPTS - 1:
            raise failed[0]
        await asyncio.sleep(min(5.0, 0.5 * (attempt + 1)))


def _partitions(specs, settings) -> list[tuple[str, int]]:
    return [(settings.topic(spec.name), p) for spec in specs for p in range(spec.partitions)]


def _keeps_up(step: dict) -> bool:
    """The edge's criterion (EDGE_SUSTAINABLE_MS), which tells a rate it keeps up with from one it queues behind:
    not the reads' p99 < 100 ms, which on the shared machine even gRPC missed at 12.5/s, so that no rung qualified
    and the comparison ran at "half of 0/s"."""
    p90_bound, p99_bound = EDGE_SUSTAINABLE_MS
    return (
        step["count"] > 0
        and step["errors"] <= step["count"] * 0.001
        and step["p90_ms"] <= p90_bound
        and step["p99_ms"] <= p99_bound
    )


def _sustainable(step: dict) -> bool:
    return (
        step["p99_ms"] < SUSTAINABLE_P99_MS
        and step["errors"] <= step["count"] * 0.001
        and step["rate"] >= 0.9 * step["offered_rate"]
    )
