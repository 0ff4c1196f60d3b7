"""The posting rate limit counted in memory: exact in one process under concurrency, read only near the limit or
when old, and never refusing on the memory's word alone."""

import asyncio

import pytest

from services.post.rate_window import REFRESH_SECONDS, RateWindow
from services.runtime.errors import ResourceExhausted


class StoredPosts:
    """The author's posts as Cassandra holds them, and how often they were counted."""

    def __init__(self, already: int = 0) -> None:
        self.count = already
        self.reads = 0

    async def count_since(self, author_id: int, first_post_id: int, up_to: int) -> int:
        self.reads += 1
        await asyncio.sleep(0)
        return min(self.count, up_to)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def window(stored: StoredPosts, limit: int, clock: Clock | None = None) -> RateWindow:
    return RateWindow(limit, 3 * 3600, stored.count_since, clock=clock or Clock(), wall_ms=lambda: 1_800_000_000_000)


async def post(rate: RateWindow, stored: StoredPosts, fail: bool = False) -> bool:
    """One CreatePost: True if it was let through (and stored, unless it failed)."""
    try:
        async with rate.post(42):
            await asyncio.sleep(0.001)
            if fail:
                raise ConnectionError("cassandra away")
            stored.count += 1
    except ResourceExhausted:
        return False
    except ConnectionError:
        pass
    return True


async def test_three_hundred_means_three_hundred_however_many_calls_arrive_at_once():
    stored = StoredPosts()
    rate = window(stored, limit=300)
    results = await asyncio.gather(*(post(rate, stored) for _ in range(450)))
    assert sum(results) == 300
    assert stored.count == 300


async def test_the_stored_posts_are_read_only_near_the_limit():
    stored = StoredPosts()
    rate = window(stored, limit=300)
    for _ in range(270):
        assert await post(rate, stored)
    assert stored.reads == 1  # the first post of the author in this process
    for _ in range(30):
        assert await post(rate, stored)
    assert stored.reads == 31  # within 30 (a tenth) of the limit, every post reads
    assert not await post(rate, stored)


async def test_a_count_older_than_the_refresh_is_read_again():
    stored, clock = StoredPosts(), Clock()
    rate = window(stored, limit=300, clock=clock)
    await post(rate, stored)
    await post(rate, stored)
    clock.now += REFRESH_SECONDS + 1
    await post(rate, stored)
    assert stored.reads == 2


async def test_posts_through_another_replica_refuse_once_the_count_is_read_near_the_limit():
    stored = StoredPosts()
    rate = window(stored, limit=100)
    for _ in range(50):
        assert await post(rate, stored)
    stored.count += 50  # another replica filled the rest of the window meanwhile
    let_through = [await post(rate, stored) for _ in range(60)]
    # The memory says 50 and lets posts through until it is within 10 of the limit; then the exact count refuses.
    assert sum(let_through) == 40
    assert not any(let_through[40:])


async def test_a_failed_post_gives_its_place_back():
    stored = StoredPosts(already=9)
    rate = window(stored, limit=10)
    assert await post(rate, stored, fail=True)
    assert await post(rate, stored)
    assert stored.count == 10
    assert not await post(rate, stored)


async def test_the_refusal_says_the_limit_and_the_window():
    stored = StoredPosts(already=5)
    rate = window(stored, limit=5)
    with pytest.raises(ResourceExhausted, match="at most 5 times in 3 hours"):
        async with rate.post(42):
            pass


async def test_a_limit_of_zero_turns_it_off_without_reading():
    stored = StoredPosts(already=10_000)
    rate = window(stored, limit=0)
    assert await post(rate, stored)
    assert stored.reads == 0
