"""Projection batches: full batches at once, trickles after the window, nothing dropped, and no timer while idle."""

import asyncio

import pytest

from services.runtime.projection.batching import batches


async def from_queue(queue: asyncio.Queue):
    """A source that waits for items as a Kafka stream does, and ends at None."""
    while (item := await queue.get()) is not None:
        yield item


async def test_a_backlog_comes_out_in_full_batches_in_order():
    source = asyncio.Queue()
    for n in range(25):
        source.put_nowait(n)
    source.put_nowait(None)
    seen = [batch async for batch in batches(from_queue(source), size=10, within=1.0)]
    assert seen == [list(range(0, 10)), list(range(10, 20)), list(range(20, 25))]


async def test_a_trickle_is_handed_over_when_the_window_closes():
    source = asyncio.Queue()
    stream = batches(from_queue(source), size=10, within=0.05)
    source.put_nowait("first")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await anext(stream) == ["first"]
    assert 0.04 <= loop.time() - started < 1.0
    await stream.aclose()


async def test_items_arriving_inside_the_window_join_the_batch_and_none_is_lost_at_its_edge():
    source = asyncio.Queue()
    stream = batches(from_queue(source), size=1000, within=0.002)

    async def produce():
        for n in range(2000):
            source.put_nowait(n)
            if n % 7 == 0:
                await asyncio.sleep(0.0005)
        source.put_nowait(None)

    producing = asyncio.create_task(produce())
    received = [item async for batch in stream for item in batch]
    await producing
    assert received == list(range(2000))


async def test_an_idle_source_wakes_nothing(monkeypatch):
    """While nothing arrives the batcher waits on the queue alone: no timer is armed at all."""
    source = asyncio.Queue()
    stream = batches(from_queue(source), size=10, within=0.005)
    loop = asyncio.get_running_loop()
    armed = []
    call_at = loop.call_at
    monkeypatch.setattr(loop, "call_at", lambda when, *args, **kw: armed.append(when) or call_at(when, *args, **kw))
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)
    sleeps = len(armed)  # the test's own sleep
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert len(armed) == sleeps + 1
    source.put_nowait("late")
    assert await waiting == ["late"]
    await stream.aclose()


async def test_an_error_in_the_source_reaches_the_consumer():
    async def broken():
        yield 1
        raise ConnectionError("broker gone")

    stream = batches(broken(), size=10, within=0.01)
    with pytest.raises(ConnectionError, match="broker gone"):
        async for _ in stream:
            pass
