"""The one consume loop of every projection: a faust agent that hands batches to the runner and acknowledges
each event only after its batch was written (or set aside).

Why it is built this way (faust-streaming's known traps):
- Events are read without acknowledging them (`noack`); each is acked only after its batch's writes succeeded, so
  the committed offset never passes an unwritten event, whatever instant the process dies at. (`take` acks in a
  `finally`, so an exception or cancellation would commit events that were never written.) The batches come from
  `batching.batches`, not `noack_take`, whose window timer wakes an idle worker 200 times a second.
- One agent instance per process (concurrency=1): with more, faust can commit past an event still in flight.
- Failures never escape the agent (an exception there could skip offsets): the runner retries until every event
  is written or dead-lettered.
"""

import os
import tempfile
import time
from collections.abc import Callable, Sequence

import faust
from prometheus_client import Histogram

from services.runtime.config import Settings
from services.runtime.projection.batching import batches
from services.runtime.projection.dead_letters import KafkaDeadLetters
from services.runtime.projection.records import Projection, Record
from services.runtime.projection.runner import apply_until_done
from services.runtime.resources import SharedResource
from services.runtime.topics import DEAD_LETTERS

BATCH_SIZE = 500
# How long a worker waits to fill a batch. Under load batches fill at once; when events trickle in, this is added
# to every event's freshness, so it is kept well below the 50 ms p50 goal.
BATCH_WITHIN_SECONDS = 0.005

# Freshness: from an event's publication (its Kafka timestamp, set by the producer) to its batch being written.
EVENT_AGE = Histogram(
    "chirp_projection_event_age_seconds",
    "Time from an event's publication to its projection being written (freshness).",
    ["projection"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)


def consuming_app(
    *,
    settings: Settings,
    name: str,
    group: str,
    topics: Sequence[str],
    projection: SharedResource[Projection],
    on_applied: Callable[[int], None] = lambda count: None,
) -> faust.App:
    """A faust app in consumer group `group` that applies `topics` to the projection in batches; `name` labels its
    metrics, logs and dead letters. `on_applied` hears how many events each batch settled."""
    app = faust.App(
        group,
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

    async def send_dead_letter(topic: str, *, key: bytes, value: bytes, headers: list) -> None:
        await app.maybe_start_producer()
        await app.producer.send_and_wait(topic, key, value, None, None, headers)

    dead_letters = KafkaDeadLetters(name, settings.topic(DEAD_LETTERS.name), send_dead_letter)

    @app.agent(channel, concurrency=1, name=f"{name}-projection")
    async def project(stream):
        target = await projection.get()
        async for events in batches(stream.noack().events(), BATCH_SIZE, BATCH_WITHIN_SECONDS):
            records = [Record.of(event.message) for event in events]
            await apply_until_done(name, target, records, dead_letters, settings.projection_max_attempts)
            applied = time.time()
            for event in events:
                await stream.ack(event)
                EVENT_AGE.labels(name).observe(max(0.0, applied - event.message.timestamp))
            on_applied(len(records))

    return app
