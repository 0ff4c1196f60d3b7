"""Stream projections: faust agents that apply batches of events to Cassandra and acknowledge them only after.

Why it is built this way (faust-streaming's known traps):
- `noack_take` hands over a batch without acknowledging it; we ack each event only after the batch's writes
  succeeded, so the committed offset never passes an unwritten event, whatever instant the process dies at.
  (`take` acks in a `finally`, so an exception or cancellation would commit events that were never written.)
- One agent instance per process (concurrency=1): with more, faust can commit past an event still in flight.
- A batch that fails because the infrastructure is down (Cassandra unavailable, timeouts, refused connections) is
  retried with bounded backoff for as long as it takes: an outage means waiting, never skipping. A batch that
  keeps failing for any other reason is retried event by event, so that only the events that fail by themselves
  are sent to the dead-letter topic (services/runtime/dead_letter.py), after `CHIRP_PROJECTION_MAX_ATTEMPTS`
  attempts, or at once if they cannot be decoded; the innocent events of the batch are applied.
- Writes are idempotent (keyed by the event, written at the event's time), so a batch replayed after a crash
  changes nothing the first attempt already wrote.
"""

import argparse
import asyncio
import os
import sys
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
from services.runtime.dead_letter import DeadLetters, EventError, KafkaDeadLetters, LoggedDeadLetters
from services.runtime.grpc_server import GrpcServer, serve
from services.runtime.outages import is_infrastructure_error
from services.runtime.resources import SharedResource
from services.runtime.topics import DEAD_LETTERS, ensure_topics
from services.runtime.versions import (
    REFRESH_SECONDS,
    ServingRepository,
    active_version,
    consumer_group_of,
    ensure_registry,
    keyspace_of,
)

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
# How long a worker waits to fill a batch. Under load batches fill at once; when events trickle in, this is added
# to every event's freshness, so it is kept well below the 50 ms p50 goal.
BATCH_WITHIN_SECONDS = 0.005
MAX_BACKOFF_SECONDS = 10.0

EVENTS_APPLIED = Counter("chirp_projection_events_total", "Events applied by a projection.", ["projection"])
BATCH_SECONDS = Histogram("chirp_projection_batch_seconds", "Time to apply one batch.", ["projection"])
BATCH_FAILURES = Counter("chirp_projection_batch_failures_total", "Batch attempts that failed.", ["projection"])
DEAD_LETTERED = Counter("chirp_projection_dead_letters_total", "Events set aside as dead letters.", ["projection"])


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


class UndecodableRecord(EventError):
    """A record that is not the envelope its topic promises: it goes straight to the dead letters."""


def envelope_of(record: Record, envelope_types: dict[str, type[Message]]) -> Message:
    """The envelope a record holds, by its topic; UndecodableRecord (a dead letter) when it does not parse."""
    envelope = envelope_types[record.topic]()
    try:
        envelope.ParseFromString(record.value)
    except DecodeError as error:
        raise UndecodableRecord(f"not a {envelope.DESCRIPTOR.full_name}: {error}") from error
    return envelope


class Projection(Protocol):
    async def apply(self, records: Sequence[Record]) -> None:
        """Apply a batch, in order. Must be idempotent: the same batch may be applied again after a crash."""


async def apply_until_done(
    name: str,
    projection: Projection,
    records: Sequence[Record],
    dead_letters: DeadLetters | None = None,
    max_attempts: int = Settings.model_fields["projection_max_attempts"].default,
) -> None:
    """Apply the batch; return once every record in it is written or dead-lettered. Infrastructure errors are
    waited out (bounded backoff, no limit on attempts); other errors count towards `max_attempts`, after which the
    batch is split into single records and only the ones that still fail are dead-lettered."""
    dead_letters = dead_letters or LoggedDeadLetters(name)
    attempt = event_failures = 0
    failure: BaseException | None = None
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
            failure = error
            BATCH_FAILURES.labels(name).inc()
            if not is_infrastructure_error(error):
                event_failures = max_attempts if isinstance(error, EventError) else event_failures + 1
            if event_failures >= max_attempts:
                break
            await _back_off(name, attempt, records, error)
    if len(records) > 1:
        for record in records:
            await apply_until_done(name, projection, [record], dead_letters, max_attempts)
        return
    await _dead_letter(name, dead_letters, records[0], failure)


async def _dead_letter(name: str, dead_letters: DeadLetters, record: Record, error: BaseException) -> None:
    """Send to the dead letters, waiting out an unreachable broker like any other outage."""
    attempt = 0
    while True:
        try:
            await dead_letters.send(record, error)
            DEAD_LETTERED.labels(name).inc()
            return
        except asyncio.CancelledError:
            raise
        except Exception as send_error:
            attempt += 1
            await _back_off(name, attempt, [record], send_error)


async def _back_off(name: str, attempt: int, records: Sequence[Record], error: BaseException) -> None:
    delay = min(MAX_BACKOFF_SECONDS, 0.2 * 2**attempt)
    log.warning(
        "projection.batch_failed",
        projection=name,
        attempt=attempt,
        retry_in=delay,
        first=records[0].where(),
        size=len(records),
        infrastructure=is_infrastructure_error(error),
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
    consumer_group: str | None = None,
    watch_version: Callable[[], Awaitable[None]] | None = None,
) -> faust.App:
    """A faust app applying `topics` to the projection in batches, in consumer group `consumer_group` (by default
    `<topic prefix>chirp-<name>`); `watch_version`, if given, runs every REFRESH_SECONDS."""
    app = faust.App(
        consumer_group or settings.consumer_group(name),
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

    dead_letter_topic = settings.topic(DEAD_LETTERS.name)

    async def send_dead_letter(topic: str, *, key: bytes, value: bytes, headers: list) -> None:
        await app.maybe_start_producer()
        await app.producer.send_and_wait(topic, key, value, None, None, headers)

    dead_letters = KafkaDeadLetters(name, dead_letter_topic, send_dead_letter)
    max_attempts = settings.projection_max_attempts

    @app.agent(channel, concurrency=1, name=f"{name}-projection")
    async def project(stream):
        target = await projection.get()
        await ensure_topics(settings, [DEAD_LETTERS])
        async for events in stream.noack_take(BATCH_SIZE, within=BATCH_WITHIN_SECONDS):
            records = [
                Record(e.message.topic, e.message.partition, e.message.offset, e.message.key, e.message.value or b"")
                for e in events
            ]
            await apply_until_done(name, target, records, dead_letters, max_attempts)
            for event in events:
                await stream.ack(event)

    if watch_version is not None:
        app.timer(REFRESH_SECONDS)(watch_version)

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
    build_projection: Callable[[object], Projection],
    add_api: Callable[[object, object], None],
    service_name: str,
    build_repository: Callable[[object], object] | None = None,
    repository_of_keyspace: Callable[[object, str], object] | None = None,
) -> None:
    """Run a service that is a projection plus a read API, in one of three roles:
    `all` (project and serve reads), `api` (reads only) or `worker` (project only; gRPC health alone).

    Given `repository_of_keyspace` instead of `build_repository`, the projection is versioned (rebuildable,
    services/runtime/versions.py): reads follow the registry's serving version, and the worker writes to the
    version that served when it started, restarting itself when the registry names another."""
    session = SharedResource(lambda: CassandraSession.connect(settings, keyspace))
    if repository_of_keyspace is None:
        written_version = 1
        repository = SharedResource(lambda: _with_session(session, build_repository))
        reads = repository
    else:
        written_version = _serving_version(settings, name)
        written = keyspace_of(settings, name, written_version)
        repository = SharedResource(lambda: _with_session(session, lambda db: repository_of_keyspace(db, written)))
        reads = ServingRepository(settings, name, session, repository_of_keyspace)

    async def close() -> None:
        if session.built() is not None:
            session.built().shutdown()

    serves_reads = role != "worker"
    server_args = dict(
        name=f"{name}-{role}",
        port=port,
        register=[lambda server: add_api(reads, server)] if serves_reads else [],
        service_names=[service_name] if serves_reads else [],
    )
    if role == "api":
        asyncio.run(serve(**server_args, metrics_port=settings.metrics_port, on_stop=close))
        return

    async def projection_factory():
        return build_projection(await repository.get())

    async def restart_when_another_version_serves() -> None:
        try:
            serving = await active_version(await session.get(), settings, name)
        except Exception as error:
            # An exception would stop faust's timer, and with it the worker: during an outage, ask again later.
            log.warning("projection.version_check_failed", projection=name, error=repr(error))
            return
        if serving != written_version:
            # The new version's group has committed only what the rebuild wrote: it resumes from there.
            log.info("projection.version_changed", projection=name, was=written_version, now=serving)
            os.execv(sys.executable, sys.orig_argv)

    app = projection_app(
        settings=settings,
        name=name,
        topics=topics,
        projection=SharedResource(projection_factory),
        server=GrpcServer(**server_args),
        on_stop=close,
        consumer_group=consumer_group_of(settings, name, written_version),
        watch_version=restart_when_another_version_serves if repository_of_keyspace is not None else None,
    )
    run_worker(app, settings.metrics_port)


async def _with_session(session: SharedResource, build: Callable[[object], object]):
    return build(await session.get())


def _serving_version(settings: Settings, service: str) -> int:
    """The serving version, creating the registry if missing so that no later read of it fails. Read before the
    worker starts, on a loop of its own: asyncio.run would leave the thread without the loop faust and grpc.aio use."""

    async def read() -> int:
        session = await CassandraSession.connect(settings, settings.keyspace(service))
        try:
            await ensure_registry(session, settings, service)
            return await active_version(session, settings, service)
        finally:
            session.shutdown()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(read())
    finally:
        loop.close()


def role_from_argv(prog: str) -> str:
    parser = argparse.ArgumentParser(prog=prog, description="all: project and serve reads; api: reads; worker: project")
    parser.add_argument("--role", choices=["all", "api", "worker"], default="all")
    return parser.parse_args().role
