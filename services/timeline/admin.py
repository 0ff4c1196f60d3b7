"""Operators' use cases of the timeline service, run from the CLI or a CronJob rather than inside a service
process: the fan-out threshold, and the sweep that marks inactive readers."""

from collections.abc import Callable

from services.runtime.clock import now_ms
from services.runtime.config import Settings
from services.runtime.projection.versions import serving_version
from services.timeline.inactivity import sweep_inactive
from services.timeline.wiring import PROJECTION, reader_state


async def fanout_threshold(settings: Settings, new_value: int | None = None) -> int | None:
    """The threshold set at run time (after setting it to `new_value`, if given); None if it was never set, and
    CHIRP_FANOUT_THRESHOLD applies."""
    async with serving_version(settings, PROJECTION) as (_, session):
        readers = reader_state(session, settings)
        if new_value is not None:
            await readers.set_fanout_threshold(new_value)
        return await readers.fanout_threshold()


async def sweep(settings: Settings, inactive_after_seconds: int, progress: Callable[[int, int], None]) -> int:
    """Mark readers idle for `inactive_after_seconds` as inactive; returns how many were newly marked."""
    async with serving_version(settings, PROJECTION) as (repository, session):
        return await sweep_inactive(
            repository, reader_state(session, settings), now_ms(), inactive_after_seconds * 1000, progress
        )
