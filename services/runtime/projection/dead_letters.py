"""Dead letters: an event a projection cannot apply is set aside, with where it came from, so its partition moves on.

Two kinds of failure look alike from inside a projection and must be told apart:
- the infrastructure is down (Cassandra unavailable or timing out, a connection refused): every event would fail,
  so the projection waits, retrying with bounded backoff for as long as it takes, and dead-letters nothing;
- the event itself cannot be applied (it does not parse, or a rule rejects it): after a few attempts it goes to
  the dead-letter topic, and the events after it are applied.
"""

from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from services.runtime.projection.records import Record

log = structlog.get_logger(__name__)

ERROR_HEADER = "chirp-dead-letter-error"
PROJECTION_HEADER = "chirp-dead-letter-projection"
SOURCE_TOPIC_HEADER = "chirp-source-topic"
SOURCE_PARTITION_HEADER = "chirp-source-partition"
SOURCE_OFFSET_HEADER = "chirp-source-offset"
SOURCE_KEY_HEADER = "chirp-source-key"


class DeadLetters(Protocol):
    async def send(self, record: Record, error: BaseException) -> None:
        """Set the record aside for good. May raise an infrastructure error; then the caller retries."""


class KafkaDeadLetters:
    """Appends the original bytes to the dead-letter topic, keyed by source topic and partition (so one partition's
    dead letters stay in order), with the error and the source topic, partition, offset and key as headers."""

    def __init__(self, projection: str, topic: str, send_and_wait: Callable[..., Awaitable]) -> None:
        self._projection = projection
        self._topic = topic
        self._send_and_wait = send_and_wait

    async def send(self, record: Record, error: BaseException) -> None:
        await self._send_and_wait(
            self._topic,
            key=f"{record.topic}:{record.partition}".encode(),
            value=record.value,
            headers=dead_letter_headers(self._projection, record, error),
        )
        log.error(
            "projection.dead_lettered", projection=self._projection, error=repr(error), to=self._topic, **record.where()
        )


def dead_letter_headers(projection: str, record: Record, error: BaseException) -> list[tuple[str, bytes]]:
    return [
        (ERROR_HEADER, repr(error)[:2000].encode()),
        (PROJECTION_HEADER, projection.encode()),
        (SOURCE_TOPIC_HEADER, record.topic.encode()),
        (SOURCE_PARTITION_HEADER, str(record.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(record.offset).encode()),
        (SOURCE_KEY_HEADER, record.key or b""),
    ]
