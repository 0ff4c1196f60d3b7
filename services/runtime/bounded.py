"""Many statements for one piece of background work, but only a few in flight at a time.

A CassandraSession lets MAX_IN_FLIGHT statements run at once and queues the rest in the order they came. Work that
issues thousands at once (a returning reader's rebuild reads two partitions per followee) would queue ahead of
every call answering meanwhile, the reader's own first page included; bounded, it leaves the session's other
slots to them.
"""

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def gather_bounded(in_flight: int, awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Like asyncio.gather (results in order, the first error raised), with at most `in_flight` awaited at once."""
    slots = asyncio.Semaphore(in_flight)

    async def one(awaitable: Awaitable[T]) -> T:
        async with slots:
            return await awaitable

    return list(await asyncio.gather(*(one(each) for each in awaitables)))
