"""Time in the forms Chirp stores and sends it: Unix milliseconds, protobuf Timestamps, Cassandra write times."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

# The last millisecond of year 9999 (UTC): the latest moment a datetime, a protobuf Timestamp and so a time Chirp
# accepts from a client can be. A later one is out of range, not "try again".
MAX_UNIX_MS = 253_402_300_799_999


def timestamp_from_ms(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def timestamp_from_datetime(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def utc_now() -> datetime:
    """Now, at the millisecond precision Cassandra's timestamp keeps, so a re-read equals what was written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """The driver returns naive UTC datetimes; make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def ms_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def datetime_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def micros_of(stamp: Timestamp) -> int:
    """Microseconds since the epoch: the write time Cassandra rows derived from this event carry."""
    return stamp.ToMicroseconds()
