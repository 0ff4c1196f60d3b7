"""Stream projections: faust agents that apply batches of events to Cassandra and acknowledge them only after.

Why it is built this way (faust-streaming's known traps):
- `noack_take` hands over a batch without acknowledging it; we ack each event only after the batch's writes
  succeeded, so the committed offset never passes an unwritten event, whatever instant the process dies at.
  (`take` acks in a `finally`, so an exception or cancellation would commit events that were never written.)
- One agent instance per process (concurrency=1): with more, faust can commit past an event still in flight.
- A batch that fails is retried with bounded backoff until it succeeds (Cassandra down means waiting, not
  skipping). Records that cannot be decoded are logged with topic, partition and offset and passed over.
- Writes are idempotent (keyed by the event, written at the event's time), so a batch replayed after a crash
  changes nothing the first attempt already wrote.
"""

import argparse
import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import faust
import mode
import structlog
from google.protobuf.message import DecodeError, Message
from prometheus_client import Counter, Histogram, start_http_server

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.grpc_server import GrpcServer, serve
from services.runtime.resources import SharedResource

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
BATCH_WITHIN_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 10.0

EVENTS_APPLIED = Counter("chirp_projection_events_total", "Events applied by a projection.", ["projection"])
BATCH_SECONDS = Histogram("chirp_projection_batch_seconds", "Time to apply one batch.", ["projection"])
BATCH_FAILURES = Counter("chirp_projection_batch_failures_total", "Batch attempts that failed.", ["projection"])


@dataclass(frozen=True)
class Record:
    """One Kafka record as a projection sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    def where(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


def decode(record: Record, envelope_types: dict[str, type[Message]]) -> Message | None:
    """The envelope a record holds, by its topic; None (logged with where it is) when it does not parse."""
    envelope = envelope_types[record.topic]()
    try:
        envelope.ParseFromString(record.value)
    except DecodeError:
        log.error("projection.undecodable_record", type=envelope.DESCRIPTOR.full_name, **record.where())
        return None
    return envelope


class Projection(Protocol):
    async def apply(self, records: Sequence[Record]) -> None:
        """Apply a batch, in order. Must be idempotent: the same batch may be applied again after a crash."""


async def apply_until_done(name: str, projection: Projection, records: Sequence[Record]) -> None:
    attempt = 0
    while True:
        try:
            with BATCH_SECONDS.labels(name).time():
                await projection.apply(records)
            EVENTS_APPLIED.labels(name).inc(len(records))
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            attempt += 1
            BATCH_FAILURES.labels(name).inc()
            delay = min(MAX_BACKOFF_SECONDS, 0.2 * 2**attempt)
            log.warning(
                "projection.batch_failed",
                projection=name,
                attempt=attempt,
                retry_in=delay,
                first=records[0].where(),
                size=len(records),
                error=repr(error),
            )
            await asyncio.sleep(delay)


def projection_app(
    *,
    settings: Settings,
    name: str,
    topics: Sequence[str],
    projection: SharedResource,
    server: GrpcServer | None,
    on_stop: Callable[[], Awaitable[None]],
) -> faust.App:
    """A faust app whose consumer group is `<topic prefix>chirp-<name>`, applying `topics` to the projection in batches."""
    app = faust.App(
        settings.consumer_group(name),
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        topic_disable_leader=True,
        web_enabled=False,
        datadir=settings.state_dir or os.path.join(tempfile.gettempdir(), "chirp-faust"),
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        # A killed worker's partitions move to the survivors after this long, not the 60 s default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        producer_acks=-1,
    )
    channel = app.topic(*topics, value_serializer="raw", key_serializer="raw")

    @app.agent(channel, concurrency=1, name=f"{name}-projection")
    async def project(stream):
        target = await projection.get()
        async for events in stream.noack_take(BATCH_SIZE, within=BATCH_WITHIN_SECONDS):
            records = [
                Record(e.message.topic, e.message.partition, e.message.offset, e.message.key, e.message.value or b"")
                for e in events
            ]
            await apply_until_done(name, target, records)
            for event in events:
                await stream.ack(event)

    @app.service
    class Lifecycle(mode.Service):
        """Serves gRPC (the API, or health alone for a worker) while the worker runs; closes sessions at stop."""

        async def on_start(self) -> None:
            if server is not None:
                await server.start()

        async def on_stop(self) -> None:
            if server is not None:
                await server.stop()
            await on_stop()

    return app


def run_worker(app: faust.App, metrics_port: int = 0) -> None:
    """Run the faust worker in the foreground until SIGTERM/SIGINT (faust stops agents, then commits)."""
    if metrics_port:
        start_http_server(metrics_port)
    worker = faust.Worker(app, loglevel="info", quiet=True, override_logging=False, redirect_stdouts=False)
    worker.execute_from_commandline()


def run_projected_service(
    *,
    name: str,
    role: str,
    port: int,
    settings: Settings,
    topics: Sequence[str],
    keyspace: str,
    build_repository: Callable[[object], object],
    build_projection: Callable[[object], Projection],
    add_api: Callable[[SharedResource, object], None],
    service_name: str,
) -> None:
    """Run a service that is a projection plus a read API, in one of three roles:
    `all` (project and serve reads), `api` (reads only) or `worker` (project only; gRPC health alone)."""
    session = SharedResource(lambda: CassandraSession.connect(settings, keyspace))

    async def repository_factory():
        return build_repository(await session.get())

    repository = SharedResource(repository_factory)

    async def close() -> None:
        if session.built() is not None:
            session.built().shutdown()

    serves_reads = role != "worker"
    server_args = dict(
        name=f"{name}-{role}",
        port=port,
        register=[lambda server: add_api(repository, server)] if serves_reads else [],
        service_names=[service_name] if serves_reads else [],
    )
    if role == "api":
        asyncio.run(serve(**server_args, metrics_port=settings.metrics_port, on_stop=close))
        return

    async def projection_factory():
        return build_projection(await repository.get())

    app = projection_app(
        settings=settings,
        name=name,
        topics=topics,
        projection=SharedResource(projection_factory),
        server=GrpcServer(**server_args),
        on_stop=close,
    )
    run_worker(app, settings.metrics_port)


def role_from_argv(prog: str) -> str:
    parser = argparse.ArgumentParser(prog=prog, description="all: project and serve reads; api: reads; worker: project")
    parser.add_argument("--role", choices=["all", "api", "worker"], default="all")
    return parser.parse_args().role
