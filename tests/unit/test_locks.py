import asyncio

from services.runtime.locks import KeyedLocks


async def test_blocks_held_on_one_key_run_one_at_a_time_and_other_keys_do_not_wait():
    locks, inside, most, order = KeyedLocks(), {"a": 0, "b": 0}, {"a": 0, "b": 0}, []

    async def work(key: str, n: int) -> None:
        async with locks.hold(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            order.append((key, n))
            await asyncio.sleep(0.001)
            inside[key] -= 1

    await asyncio.gather(*(work(key, n) for n in range(20) for key in "ab"))
    assert most == {"a": 1, "b": 1}
    assert order[:2] == [("a", 0), ("b", 0)]  # b did not wait for a
    assert len(locks) == 0  # nothing kept once nobody holds or waits


async def test_a_failing_block_releases_its_key():
    locks = KeyedLocks()
    try:
        async with locks.hold(1):
            raise ValueError
    except ValueError:
        pass
    async with locks.hold(1):
        assert len(locks) == 1
    assert len(locks) == 0
