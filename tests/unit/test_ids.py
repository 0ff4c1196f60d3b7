from hypothesis import given
from hypothesis import strategies as st

from services.runtime.ids import EPOCH_MS, SnowflakeIds, timestamp_ms_of


def test_ids_from_one_generator_strictly_increase_even_within_a_millisecond():
    ids = SnowflakeIds(worker_id=3, clock_ms=lambda: 1_800_000_000_000)
    generated = [ids.next_id() for _ in range(10_000)]  # more than 4096: spills into following milliseconds
    assert generated == sorted(set(generated))


def test_a_clock_stepping_back_never_yields_an_older_id():
    times = iter([1_800_000_001_000, 1_800_000_000_000, 1_800_000_000_500])
    ids = SnowflakeIds(worker_id=1, clock_ms=lambda: next(times))
    first, second, third = ids.next_id(), ids.next_id(), ids.next_id()
    assert first < second < third


@given(st.integers(min_value=EPOCH_MS, max_value=EPOCH_MS + 2**41 - 1), st.integers(0, 1023))
def test_the_time_of_an_id_is_the_time_it_was_made(ms, worker):
    assert timestamp_ms_of(SnowflakeIds(worker, clock_ms=lambda: ms).next_id()) == ms


def test_different_workers_never_collide_in_the_same_millisecond():
    def clock():
        return 1_800_000_000_000

    a, b = SnowflakeIds(1, clock), SnowflakeIds(2, clock)
    assert not {a.next_id() for _ in range(1000)} & {b.next_id() for _ in range(1000)}
