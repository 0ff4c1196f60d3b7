"""Inactive readers: fan-out skips them, and their home timeline is rebuilt when they read again.

`chirp timeline sweep-inactive` (a periodic job in production) marks who is inactive; the read API rebuilds.
"""

import asyncio
from collections.abc import Callable

from services.runtime.ids import timestamp_ms_of
from services.timeline.domain import BACKFILL_POSTS, REBUILT_ON_RETURN, is_inactive, newest_posts
from services.timeline.reach import reaching_posts
from services.timeline.reader_state import ReaderState
from services.timeline.repository import TimelineRepository

# Users swept at once.
SWEEP_CONCURRENCY = 32


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


async def rebuild_on_return(repo: TimelineRepository, readers: ReaderState, reader: int, now: int) -> None:
    """Mark the reader active first (fan-out reaches them again from here), then copy in the newest posts of
    everyone they follow. A post applied meanwhile is caught by one or the other: fan-out writes the author's
    timeline before it reads who is inactive; this reads that timeline after marking."""
    followees = await repo.followee_ids(reader)
    await readers.mark_active(reader, followees, now)
    recent = await asyncio.gather(*(repo.recent_post_ids(f, BACKFILL_POSTS) for f in [reader, *followees]))
    candidates = newest_posts([pid for ids in recent for pid in ids])
    posts = await reaching_posts(repo, reader, await repo.get_posts(candidates), set(followees))
    await asyncio.gather(
        *(
            # Written at the post's own time, like its fan-out: a later unfollow or trim still removes it.
            repo.add_to_homes([reader], p.post_id, p.author_id, timestamp_ms_of(p.post_id) * 1000, REBUILT_ON_RETURN)
            for p in posts.values()
        )
    )
