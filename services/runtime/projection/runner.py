"""Applying a batch until every event in it is written or set aside: the failure rules of every projection.

- A batch that fails because the infrastructure is down (Cassandra unavailable, timeouts, refused connections) is
  retried with bounded backoff for as long as it takes: an outage means waiting, never skipping.
- A batch that keeps failing for any other reason is retried event by event, so that only the events that fail by
  themselves are sent to the dead letters (`dead_letters.py`), after `CHIRP_PROJECTION_MAX_ATTEMPTS` attempts, or at
  once if they cannot be decoded; the innocent events of the batch are applied.
- Writes are idempotent (keyed by the event, written at the event's time), so a batch applied again after a crash
  changes nothing the first attempt already wrote.
"""

import asyncio
from collections.abc import Sequence

import structlog
from prometheus_client import Counter, Histogram

from services.runtime.outages import is_infrastructure_error
from services.runtime.projection.dead_letters import DeadLetters
from services.runtime.projection.records import EventError, Projection, Record

log = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 10.0

EVENTS_APPLIED = Counter("chirp_projection_events_total", "Events applied by a projection.", ["projection"])
BATCH_SECONDS = Histogram("chirp_projection_batch_seconds", "Time to apply one batch.", ["projection"])
BATCH_FAILURES = Counter("chirp_projection_batch_failures_total", "Batch attempts that failed.", ["projection"])
DEAD_LETTERED = Counter("chirp_projection_dead_letters_total", "Events set aside as dead letters.", ["projection"])


async def apply_until_done(
    name: str, projection: Projection, records: Sequence[Record], dead_letters: DeadLetters, max_attempts: int
) -> None:
    """Apply the batch; return once every record in it is written or dead-lettered. Infrastructure errors are
    waited out (bounded backoff, no limit on attempts); other errors count towards `max_attempts`, after which the
    batch is split into single records and only the ones that still fail are dead-lettered."""
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
