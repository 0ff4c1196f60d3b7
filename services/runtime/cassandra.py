"""Cassandra sessions for asyncio: prepared statements, futures bridged into the event loop.

The driver runs its I/O on its own thread and reports through callbacks; `execute` turns that into an awaitable
without blocking the loop.
"""

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any

import structlog
from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement, named_tuple_factory
from prometheus_client import Histogram

from services.runtime.config import Settings

log = structlog.get_logger(__name__)

# Statements one process keeps in flight on a session: enough to hide latency (a fan-out writes many rows at
# once), few enough not to flood one node.
MAX_IN_FLIGHT = 128

# Rows per unlogged batch of `execute_rows`: a home-timeline row is about 100 bytes, so 50 stay near Cassandra's
# 5 KiB batch_size_warn_threshold and far below its 50 KiB fail threshold.
BATCH_ROWS = 50

# How soon a lost node is tried again. The driver's default backs off to 10 minutes, so a 30-second outage could
# keep every service answering UNAVAILABLE for minutes after Cassandra is back; 5 seconds at most bounds that.
RECONNECT = ExponentialReconnectionPolicy(base_delay=0.5, max_delay=5.0)

STATEMENT_SECONDS = Histogram(
    "chirp_cassandra_statement_seconds",
    "Time from sending a statement to Cassandra to its answer, by verb and table (a batch: `batch`).",
    ["statement"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)
# The table a statement names, by its verb; without the keyspace, which differs between versions and prefixes.
_TABLE_AFTER = {"SELECT": r"\bFROM\s+", "DELETE": r"\bFROM\s+", "INSERT": r"\bINTO\s+", "UPDATE": r"^\s*UPDATE\s+"}
_NAMES: dict[str, str] = {}


class CassandraSession:
    """One keyspace's session. Statements are prepared once and reused, at most MAX_IN_FLIGHT at a time."""

    def __init__(self, cluster: Cluster, session: Session) -> None:
        self._cluster = cluster
        self._session = session
        self._prepared: dict[str, PreparedStatement] = {}
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    @classmethod
    async def connect(
        cls, settings: Settings, keyspace: str | None = None, wait_seconds: float = 60
    ) -> "CassandraSession":
        """Connect, retrying while the cluster is still starting (a pod may start before Cassandra is ready)."""
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc)),
            consistency_level=ConsistencyLevel.LOCAL_QUORUM,
            serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
            request_timeout=20,
            row_factory=named_rows,
        )
        deadline = time.monotonic() + wait_seconds
        while True:
            cluster = Cluster(
                contact_points=[h.strip() for h in settings.cassandra_hosts.split(",") if h.strip()],
                port=settings.cassandra_port,
                execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                protocol_version=5,
                reconnection_policy=RECONNECT,
            )
            try:
                session = await asyncio.to_thread(cluster.connect, keyspace)
                return cls(cluster, session)
            except NoHostAvailable as error:
                cluster.shutdown()
                if time.monotonic() > deadline:
                    raise ConnectionError(
                        f"Cassandra at {settings.cassandra_hosts}:{settings.cassandra_port} is not reachable: {error}"
                    ) from error
                log.warning("cassandra.waiting", hosts=settings.cassandra_hosts, error=str(error))
                await asyncio.sleep(2)

    async def prepare(self, cql: str) -> PreparedStatement:
        statement = self._prepared.get(cql)
        if statement is None:
            # Preparing is a blocking round trip in the driver: keep it off the event loop.
            statement = await asyncio.to_thread(self._session.prepare, cql)
            self._prepared[cql] = statement
        return statement

    async def execute(self, cql: str, params: tuple | list | None = None, *, idempotent: bool = True) -> list[Any]:
        """Run a statement (prepared on first use) and return all rows of its single page."""
        statement = self._prepared.get(cql) or await self.prepare(cql)
        bound = statement.bind(params or ())
        bound.is_idempotent = idempotent
        return await self._run(bound)

    async def execute_batch(self, statements: Sequence[tuple[str, tuple | list]], *, logged: bool = False) -> None:
        """Statements (each prepared on first use) as one batch. Within one partition a batch is atomic and isolated
        either way; across partitions a logged batch is applied in full eventually, an unlogged one maybe in part
        (each partition's share still whole)."""
        batch = BatchStatement(batch_type=BatchType.LOGGED if logged else BatchType.UNLOGGED)
        for cql, params in statements:
            batch.add(self._prepared.get(cql) or await self.prepare(cql), params)
        batch.is_idempotent = True
        await self._run(batch)

    async def execute_rows(self, cql: str, rows: Sequence[tuple | list]) -> None:
        """One write statement for many rows, sent as unlogged batches of rows whose partitions share their replicas.

        A fan-out writes one row to each of many partitions. One statement per row costs a round trip and a loop
        wake-up each; a batch of rows that live on the same nodes is one request, which the token-aware driver sends
        to one of those nodes, so nothing is forwarded. Each row is still written whole (an unlogged batch is atomic
        per partition); rows are idempotent, so a retried batch writes the same rows."""
        if not rows:
            return
        statement = self._prepared.get(cql) or await self.prepare(cql)
        by_replicas: dict[frozenset, list] = {}
        metadata = self._cluster.metadata
        for params in rows:
            bound = statement.bind(params)
            replicas = frozenset(metadata.get_replicas(statement.keyspace, bound.routing_key))
            by_replicas.setdefault(replicas, []).append(bound)
        batches = []
        for bounds in by_replicas.values():
            for start in range(0, len(bounds), BATCH_ROWS):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for bound in bounds[start : start + BATCH_ROWS]:
                    batch.add(bound)
                batch.is_idempotent = True
                batches.append(batch)
        await asyncio.gather(*(self._run(batch) for batch in batches))

    async def _run(self, statement) -> list[Any]:
        async with self._in_flight:
            started = time.perf_counter()
            try:
                return await _bridge(self._session.execute_async(statement))
            finally:
                STATEMENT_SECONDS.labels(statement_name(statement)).observe(time.perf_counter() - started)

    async def execute_raw(self, cql: str) -> list[Any]:
        """Run an unprepared statement (DDL)."""
        return await _bridge(self._session.execute_async(cql, timeout=60))

    def shutdown(self) -> None:
        self._cluster.shutdown()


def statement_name(statement) -> str:
    """`SELECT home_entries`, `INSERT posts`...: a label for a prepared statement's latency, made once per query."""
    query = getattr(getattr(statement, "prepared_statement", None), "query_string", None)
    if query is None:
        return "batch" if isinstance(statement, BatchStatement) else "other"
    name = _NAMES.get(query)
    if name is None:
        verb = query.split(None, 1)[0].upper()
        table = re.search(_TABLE_AFTER[verb] + r"([\w.]+)", query, re.IGNORECASE) if verb in _TABLE_AFTER else None
        name = _NAMES[query] = f"{verb} {table.group(1).rsplit('.', 1)[-1]}" if table else verb
    return name


# Row classes by column names: one per distinct SELECT, so a handful for a whole process.
_ROW_TYPES: dict[tuple[str, ...], type] = {}


def named_rows(colnames: list[str], rows: list) -> list:
    """Rows as named tuples, as the driver's default gives them, but without building a new namedtuple class for
    every result set: that alone was 15% of a home-timeline read's CPU."""
    if not rows:
        return []
    key = tuple(colnames)
    row_type = _ROW_TYPES.get(key)
    if row_type is None:
        row_type = _ROW_TYPES[key] = type(named_tuple_factory(colnames, rows[:1])[0])
    return [row_type(*row) for row in rows]


def _bridge(response_future) -> asyncio.Future:
    loop = asyncio.get_running_loop()
    result: asyncio.Future = loop.create_future()

    def on_rows(rows):
        loop.call_soon_threadsafe(_settle, result, rows, None)

    def on_error(error):
        loop.call_soon_threadsafe(_settle, result, None, error)

    response_future.add_callbacks(on_rows, on_error)
    return result


def _settle(future: asyncio.Future, rows, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(list(rows or ()))
