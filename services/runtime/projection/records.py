"""What a projection consumes and promises: Kafka records in, idempotent writes out."""

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from google.protobuf.message import DecodeError, Message


class EventError(Exception):
    """The event can never be applied (it does not parse, say): retrying it cannot help."""


class UndecodableRecord(EventError):
    """A record that is not the envelope its topic promises: it goes straight to the dead letters."""


@dataclass(frozen=True)
class Record:
    """One Kafka record as a projection sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, message) -> "Record":
        """From a consumed message (faust's `event.message` or aiokafka's ConsumerRecord: both have these fields)."""
        return cls(message.topic, message.partition, message.offset, message.key, message.value or b"")

    def where(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


def envelope_of(record: Record, envelope_types: dict[str, type[Message]]) -> Message:
    """The envelope a record holds, by its topic; UndecodableRecord (a dead letter) when it does not parse."""
    envelope = envelope_types[record.topic]()
    try:
        envelope.ParseFromString(record.value)
    except DecodeError as error:
        raise UndecodableRecord(f"not a {envelope.DESCRIPTOR.full_name}: {error}") from error
    return envelope


class Projection(Protocol):
    """A projection may also have `async def close()`, for what it holds of its own (a producer, say): the worker
    calls it when it stops. A rebuild's projection may have `async def replayed()`, which the rebuild calls once the
    replay has reached the end, before the new version serves: for work done once then instead of in every
    batch."""

    async def apply(self, records: Sequence[Record]) -> None:
        """Apply a batch, in order. Must be idempotent: the same batch may be applied again after a crash."""


P = TypeVar("P", bound=Projection)


@contextlib.asynccontextmanager
async def closing(projection: P) -> AsyncIterator[P]:
    """The projection, closed on exit if it holds resources of its own (see Projection)."""
    try:
        yield projection
    finally:
        close = getattr(projection, "close", None)
        if close is not None:
            await close()
