"""Event identity and time: what every envelope carries so that consumers can deduplicate and order."""

import uuid
from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp

# Namespace of Chirp's name-based event ids (UUIDv5): the same fact always gets the same id, so a retried
# publication is recognised as a duplicate by every consumer.
_EVENT_NAMESPACE = uuid.UUID("6f6b4c1e-2b1d-4c1a-9a53-63686972702e")


def event_id_for(*fact: object) -> str:
    """A deterministic event id for a fact, e.g. event_id_for("post-created", 42)."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, ":".join(str(part) for part in fact)))


def timestamp_from_ms(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def timestamp_from_datetime(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(timezone.utc))
    return stamp


def now_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def utc_now() -> datetime:
    """Now, at the millisecond precision Cassandra's timestamp keeps, so a re-read equals what was written."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """The driver returns naive UTC datetimes; make them aware."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def ms_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def datetime_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def micros_of(stamp: Timestamp) -> int:
    """Microseconds since the epoch: the write time Cassandra rows derived from this event carry."""
    return stamp.ToMicroseconds()
