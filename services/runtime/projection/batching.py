"""Batches from an event stream that sleep while the stream is idle.

faust's `take`/`noack_take` wake every `within` seconds whether or not anything arrived: with the 5 ms window a
projection needs for freshness, an idle worker woke 200 times a second and spent about 7% of a core doing nothing.
Here the first event of a batch is awaited without a timeout, and the window only runs while a batch is filling.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

Item = TypeVar("Item")


async def batches(source: AsyncIterator[Item], size: int, within: float) -> AsyncIterator[list[Item]]:
    """Yield lists of at most `size` items from `source`: a batch starts with the first item to arrive, however
    long that takes, and is handed over when it is full or `within` seconds after it started.

    A background task reads `source` into a queue of `size` items, so reading stops (and Kafka's fetches with it)
    while a full queue waits for the batch in hand to be written. An error in `source` ends the iteration with it.
    """
    queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=size)
    loop = asyncio.get_running_loop()

    async def fill() -> None:
        async for item in source:
            await queue.put(item)

    filling = asyncio.create_task(fill())
    try:
        while (first := await _next(queue, filling, timeout=None)) is not _NOTHING:
            batch = [first]
            deadline = loop.time() + within
            while len(batch) < size and (remaining := deadline - loop.time()) > 0:
                item = await _next(queue, filling, timeout=remaining)
                if item is _NOTHING:
                    break
                batch.append(item)
            yield batch
    finally:
        filling.cancel()
        await asyncio.gather(filling, return_exceptions=True)


_NOTHING: Any = object()


async def _next(queue: "asyncio.Queue[Item]", filling: "asyncio.Task[None]", timeout: float | None) -> Item:
    """The next queued item, or _NOTHING after `timeout` seconds or once the source ran out; raises the source's
    error. A wait that ends without an item cancels its `queue.get()`, which leaves the queue untouched, so no item
    taken from the queue is ever dropped (asyncio.wait_for could cancel a get that had just taken one)."""
    if not queue.empty():
        return queue.get_nowait()
    if filling.done():
        filling.result()
        return _NOTHING
    getting = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getting, filling}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        getting.cancel()
    if getting.done() and not getting.cancelled():
        return getting.result()
    if filling.done():
        filling.result()
    return _NOTHING
