"""Inactive readers: fan-out skips them, and their home timeline is rebuilt when they read again.

`chirp timeline sweep-inactive` (a periodic job in production) marks who is inactive; the read API rebuilds.
"""

import asyncio
import heapq
from collections.abc import Callable

from services.runtime.bounded import gather_bounded
from services.runtime.clock import now_ms
from services.runtime.ids import timestamp_ms_of
from services.timeline.domain import BACKFILL_POSTS, HOME_TIMELINE_CAP, REBUILT_ON_RETURN, HomeEntry, is_inactive
from services.timeline.reach import reaching_posts
from services.timeline.reader_state import ReaderState
from services.timeline.repository import TimelineRepository

# Users swept at once.
SWEEP_CONCURRENCY = 32
# Statements a returning reader's come-back and rebuild keep in flight (of the session's MAX_IN_FLIGHT): the
# thousands they issue for a reader following thousands must not queue ahead of the pages answered meanwhile.
REBUILD_IN_FLIGHT = 16


async def sweep_inactive(
    repo: TimelineRepository,
    readers: ReaderState,
    now_ms: int,
    inactive_after_ms: int,
    progress: Callable[[int, int], None],
) -> int:
    """Mark every user who has not read for `inactive_after_ms` (or, never having read, was created that long
    ago) as inactive, so fan-out skips them. Returns how many were newly marked."""
    users = await repo.user_ids()
    limit = asyncio.Semaphore(SWEEP_CONCURRENCY)
    marked = done = 0

    async def sweep(user_id: int) -> None:
        nonlocal marked, done
        async with limit:
            activity = await readers.activity(user_id)
            last_active = activity.last_read_ms if activity.last_read_ms is not None else timestamp_ms_of(user_id)
            if not activity.inactive and is_inactive(last_active, now_ms, inactive_after_ms):
                await readers.mark_inactive(user_id, await repo.followee_ids(user_id), last_active)
                marked += 1
            done += 1
            progress(done, len(users))

    await asyncio.gather(*(sweep(user_id) for user_id in users))
    return marked


async def come_back(repo: TimelineRepository, readers: ReaderState, reader: int, now: int) -> None:
    """Mark the reader active (fan-out reaches them again from here) with their rebuild pending. A post applied
    meanwhile is caught by one or the other: fan-out writes the author's timeline before it reads who is inactive;
    the rebuild reads that timeline after this (and a first page reads the timelines themselves)."""
    await readers.mark_active(reader, await repo.followee_ids(reader), now, REBUILD_IN_FLIGHT)


async def first_page(repo: TimelineRepository, reader: int, limit: int) -> list[HomeEntry]:
    """A returning reader's newest entries, before their rows are rebuilt, in three rounds of reads however many
    accounts they follow: whom they follow, when each last posted or reposted, and the entries of only the `limit`
    most recently active. The newest `limit` entries of all are among those: an author with one of them has a
    newest entry at least as new, and `limit` authors with newer newest entries would leave it out."""
    followees = [reader, *await repo.followee_ids(reader)]
    latest = await repo.last_positions(followees)
    active = heapq.nlargest(limit, latest, key=latest.__getitem__)
    recent = await asyncio.gather(*(repo.recent_entries(author, limit) for author in active))
    entries = heapq.nlargest(limit, (entry for each in recent for entry in each), key=lambda entry: entry.position)
    return await _reaching(repo, reader, entries, set(followees))


async def rebuild_home(repo: TimelineRepository, readers: ReaderState, reader: int) -> None:
    """Copy the newest entries (posts and reposts) of everyone the reader follows into their home timeline, then
    clear the pending rebuild. Each entry is written at its own time, like its fan-out: a later unfollow or trim
    still removes it."""
    followees = [reader, *await repo.followee_ids(reader)]
    recent = await gather_bounded(
        REBUILD_IN_FLIGHT, (repo.recent_entries(author, BACKFILL_POSTS) for author in followees)
    )
    newest = heapq.nlargest(
        HOME_TIMELINE_CAP, (entry for each in recent for entry in each), key=lambda entry: entry.position
    )
    entries = await _reaching(repo, reader, newest, set(followees))
    await gather_bounded(
        REBUILD_IN_FLIGHT,
        (
            repo.add_entries_to_home(reader, [entry], timestamp_ms_of(entry.position) * 1000, REBUILT_ON_RETURN)
            for entry in entries
        ),
    )
    await readers.rebuilt(reader, now_ms())


async def _reaching(repo: TimelineRepository, reader: int, entries: list[HomeEntry], followed: set[int]):
    """The entries that reach the reader: reposts, and posts by the reply rule (services/timeline/reach.py)."""
    own = [entry.post_id for entry in entries if not entry.reposted_by]
    reaching = await reaching_posts(repo, reader, await repo.get_posts(own), followed)
    return [entry for entry in entries if entry.reposted_by or entry.post_id in reaching]


class Rebuilds:
    """The home rebuilds this process runs: one per returning reader at a time, awaited by the deeper pages. For a
    reader still marked inactive, the rebuild marks them active first (`come_back`)."""

    def __init__(self) -> None:
        self._running: dict[int, asyncio.Task] = {}

    def ensure(self, repo: TimelineRepository, readers: ReaderState, reader: int, inactive: bool) -> asyncio.Task:
        task = self._running.get(reader)
        if task is None or (task.done() and task.exception() is not None):
            task = asyncio.create_task(_return(repo, readers, reader, inactive))
            self._running[reader] = task
            task.add_done_callback(lambda done: self._forget(reader, done))
        return task

    def _forget(self, reader: int, task: asyncio.Task) -> None:
        if self._running.get(reader) is task and not task.cancelled() and task.exception() is None:
            del self._running[reader]


async def _return(repo: TimelineRepository, readers: ReaderState, reader: int, inactive: bool) -> None:
    if inactive:
        await come_back(repo, readers, reader, now_ms())
    await rebuild_home(repo, readers, reader)
