"""B1-B4: the infrastructure alone, with Chirp's message sizes and client concurrency, in the same run.

Each baseline is the ceiling of the Chirp operation it bounds on this machine: Chirp's figure divided by the
baseline's says how much of the hardware's (and the libraries') capacity Chirp's own code leaves unused.
"""

import asyncio
import random
import subprocess
import sys
import time

import grpc
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cassandra.concurrent import execute_concurrent_with_args

from bench.echo_server import METHOD
from bench.load import Latencies, closed_loop, open_loop
from bench.workload import poisson_offsets
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.topics import POST_EVENTS

# The home timeline's schema (services/timeline/schema), in a scratch keyspace of the bench's own.
HOME_TABLE = """CREATE TABLE IF NOT EXISTS {keyspace}.home_timeline (
  user_id bigint, post_id bigint, author_id bigint, reposted_by bigint,
  source_topic text, source_partition int, source_offset bigint,
  PRIMARY KEY ((user_id), post_id)
) WITH CLUSTERING ORDER BY (post_id DESC)"""
INSERT = (
    "INSERT INTO {keyspace}.home_timeline (user_id, post_id, author_id, source_topic, source_partition, source_offset) "
    "VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
READ_PAGE = "SELECT post_id, reposted_by FROM {keyspace}.home_timeline WHERE user_id = ? LIMIT 20"
# In-flight statements of one fan-out (services/timeline/repository.py MAX_IN_FLIGHT).
CASSANDRA_CONCURRENCY = 128


def baseline_topic(settings: Settings) -> str:
    return settings.topic("bench.baseline.v1")


async def kafka_producer(settings: Settings, record_bytes: int, concurrency: int, seconds: float) -> Latencies:
    """B1: records of a PostCreated event's size, keyed like posts, acks=all and idempotent like EventPublisher."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        if baseline_topic(settings) not in await admin.list_topics():
            await admin.create_topics([NewTopic(baseline_topic(settings), POST_EVENTS.partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    value = random.randbytes(record_bytes)
    try:
        # A new topic's partitions may still be electing leaders: one record to each before the clock starts.
        await asyncio.gather(
            *(
                producer.send_and_wait(baseline_topic(settings), value, partition=p)
                for p in range(POST_EVENTS.partitions)
            )
        )
        return await closed_loop(
            concurrency,
            seconds,
            lambda i: producer.send_and_wait(baseline_topic(settings), value, key=str(i % 10_000).encode()),
        )
    finally:
        await producer.stop()


async def grpc_echo(port: int, request_bytes: int, response_bytes: int, concurrency: int, seconds: float) -> Latencies:
    """B2: unary calls carrying CreatePost's request and response sizes to a server that does no work."""
    server = subprocess.Popen([sys.executable, "-m", "bench.echo_server", str(port), str(response_bytes)])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), 30)
            call = channel.unary_unary(METHOD)
            request = b"x" * request_bytes
            return await closed_loop(concurrency, seconds, lambda i: call(request, timeout=10))
    finally:
        server.terminate()
        server.wait(timeout=10)


class ScratchTable:
    """B3 and B4 run against a table with the home timeline's schema in a keyspace only the bench uses."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keyspace = settings.keyspace("bench_scratch")

    async def create(self, session: CassandraSession) -> None:
        await session.execute_raw(
            f"CREATE KEYSPACE IF NOT EXISTS {self.keyspace} "
            "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        await session.execute_raw(HOME_TABLE.format(keyspace=self.keyspace))

    async def inserts(self, session: CassandraSession, partitions: int, seconds: float) -> dict:
        """B3: concurrent inserts with the driver's own concurrent executor, in chunks until `seconds` passed."""
        statement = await session.prepare(INSERT.format(keyspace=self.keyspace))
        raw = session._session  # the driver's Session: B3 measures the driver without Chirp's asyncio bridge
        rng = random.Random(7)
        rows, began = 0, time.monotonic()
        while time.monotonic() - began < seconds:
            chunk = [
                (
                    rng.randrange(partitions),
                    rows + i,
                    rng.randrange(10**6),
                    "bench",
                    i % 6,
                    rows + i,
                    int(time.time() * 1e6),
                )
                for i in range(5000)
            ]
            await asyncio.to_thread(
                execute_concurrent_with_args,
                raw,
                statement,
                chunk,
                concurrency=CASSANDRA_CONCURRENCY,
                raise_on_first_error=True,
            )
            rows += len(chunk)
        elapsed = time.monotonic() - began
        return {"rows": rows, "seconds": round(elapsed, 3), "rows_per_second": round(rows / elapsed, 1)}

    async def reads(self, session: CassandraSession, partitions: int, rate: float, seconds: float) -> Latencies:
        """B4: one partition, newest 20 rows, open loop at `rate`."""
        rng = random.Random(8)
        cql = READ_PAGE.format(keyspace=self.keyspace)
        return await open_loop(
            poisson_offsets(rate, seconds, rng), lambda i: session.execute(cql, (rng.randrange(partitions),))
        )
