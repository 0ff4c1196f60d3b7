"""gather_bounded keeps at most its limit in flight, and answers like gather."""

import asyncio

import pytest

from services.runtime.bounded import gather_bounded


async def test_no_more_than_the_limit_run_at_once_and_results_keep_their_order():
    running = peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (n % 3))
        running -= 1
        return n * n

    assert await gather_bounded(4, (work(n) for n in range(40))) == [n * n for n in range(40)]
    assert peak == 4


async def test_an_error_is_raised_as_gather_raises_it():
    async def fails() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await gather_bounded(2, [asyncio.sleep(0), fails()])
