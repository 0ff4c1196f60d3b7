"""Dead letters: an event a projection cannot apply is set aside, with where it came from, so its partition moves on.

Two kinds of failure look alike from inside a projection and must be told apart:
- the infrastructure is down (Cassandra unavailable or timing out, a connection refused): every event would fail,
  so the projection waits, retrying with bounded backoff for as long as it takes, and dead-letters nothing;
- the event itself cannot be applied (it does not parse, or a rule rejects it): after a few attempts it goes to
  the dead-letter topic, and the events after it are applied.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import structlog
from aiokafka import AIOKafkaConsumer

from services.runtime.config import Settings
from services.runtime.projection.records import Record, closing
from services.runtime.projection.versions import serving_version
from services.runtime.topics import DEAD_LETTERS, partitions_of

if TYPE_CHECKING:
    from services.runtime.projection.spec import ProjectionSpec

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


@dataclass(frozen=True)
class DeadLetter:
    """A record set aside, as read back from the dead-letter topic: where it is there, which projection failed on
    it and why, and the original record as that projection first saw it."""

    offset: int
    time: datetime
    projection: str
    error: str
    record: Record

    @classmethod
    def of(cls, message) -> "DeadLetter":
        headers = {name: value.decode() for name, value in message.headers if name != SOURCE_KEY_HEADER}
        key = dict(message.headers).get(SOURCE_KEY_HEADER) or None
        record = Record(
            headers[SOURCE_TOPIC_HEADER],
            int(headers[SOURCE_PARTITION_HEADER]),
            int(headers[SOURCE_OFFSET_HEADER]),
            key,
            message.value or b"",
        )
        return cls(
            offset=message.offset,
            time=datetime.fromtimestamp(message.timestamp / 1000, UTC),
            projection=headers[PROJECTION_HEADER],
            error=headers[ERROR_HEADER],
            record=record,
        )


async def read_dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter so far, oldest first (none when no worker has created the topic yet)."""
    # From the first record: a consumer without a group starts from where auto_offset_reset says.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        try:
            partitions = await partitions_of(consumer, [settings.topic(DEAD_LETTERS.name)])
        except ValueError:
            return []
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, messages in (await consumer.getmany(*partitions, timeout_ms=1000)).items():
                letters.extend(DeadLetter.of(m) for m in messages if m.offset < ends[tp])
        return sorted(letters, key=lambda letter: letter.offset)
    finally:
        await consumer.stop()


async def replay_dead_letters(
    settings: Settings, spec: "ProjectionSpec", letters: Sequence[DeadLetter]
) -> list[BaseException | None]:
    """Apply each letter's record again, one at a time, to the version of the projection that serves; for each,
    the error it failed with again, or None. Applying is idempotent, so replaying a letter twice changes nothing."""
    async with serving_version(settings, spec) as (repository, session):
        async with closing(spec.projection(repository, session, settings)) as projection:
            failures: list[BaseException | None] = []
            for letter in letters:
                try:
                    await projection.apply([letter.record])
                    failures.append(None)
                except Exception as error:
                    failures.append(error)
            return failures
