"""The projection runner's failure rules: outages are waited out, poison events are dead-lettered alone."""

import asyncio

import cassandra
import pytest
from aiokafka.errors import KafkaConnectionError
from cassandra.cluster import NoHostAvailable

from services.runtime.projection import runner
from services.runtime.projection.dead_letters import KafkaDeadLetters
from services.runtime.projection.records import Record, UndecodableRecord
from services.runtime.projection.runner import MAX_BACKOFF_SECONDS, apply_until_done

MAX_ATTEMPTS = 4


def record(offset: int, value: bytes = b"ok") -> Record:
    return Record("chirp.post.events.v1", 3, offset, b"42", value)


class FlakyProjection:
    """Applies records one by one; raises what `failures` says for a record (a list is consumed call by call)."""

    def __init__(self, failures: dict[int, list[BaseException] | BaseException]) -> None:
        self.failures = failures
        self.calls = 0
        self.applied: list[int] = []

    async def apply(self, records):
        self.calls += 1
        for r in records:
            failure = self.failures.get(r.offset)
            if isinstance(failure, list):
                failure = failure.pop(0) if failure else None
            if failure is not None:
                raise failure
            self.applied.append(r.offset)


class Collected:
    def __init__(self, send_failures: int = 0) -> None:
        self.sent: list[tuple[int, str]] = []
        self.send_failures = send_failures

    async def send(self, record, error):
        if self.send_failures:
            self.send_failures -= 1
            raise KafkaConnectionError("broker away")
        self.sent.append((record.offset, repr(error)))


@pytest.fixture
def delays(monkeypatch) -> list[float]:
    """Backoff sleeps, recorded instead of slept."""
    slept: list[float] = []

    async def no_wait(seconds):
        slept.append(seconds)

    monkeypatch.setattr(runner.asyncio, "sleep", no_wait)
    return slept


def run(projection, records, dead_letters):
    asyncio.run(apply_until_done("test", projection, records, dead_letters, MAX_ATTEMPTS))


def test_a_poison_event_is_dead_lettered_alone_and_the_rest_of_its_batch_is_applied(delays):
    projection = FlakyProjection({12: ValueError("bad rule")})
    dead = Collected()
    run(projection, [record(o) for o in range(10, 15)], dead)
    assert [offset for offset, _ in dead.sent] == [12]
    assert "bad rule" in dead.sent[0][1]
    assert set(projection.applied) >= {10, 11, 13, 14}
    assert 12 not in projection.applied


def test_an_event_that_fails_fewer_times_than_the_limit_is_applied_not_dead_lettered(delays):
    projection = FlakyProjection({11: [ValueError("once")] * (MAX_ATTEMPTS - 1)})
    dead = Collected()
    run(projection, [record(10), record(11)], dead)
    assert dead.sent == []
    assert projection.applied[-2:] == [10, 11]


def test_an_outage_is_waited_out_with_bounded_backoff_and_dead_letters_nothing(delays):
    outage = [cassandra.Unavailable("down"), NoHostAvailable("no host", {}), cassandra.OperationTimedOut("slow")] * 10
    projection = FlakyProjection({10: outage})
    dead = Collected()
    run(projection, [record(10), record(11)], dead)
    assert dead.sent == []
    assert projection.calls == 31
    assert projection.applied == [10, 11]
    assert max(delays) == MAX_BACKOFF_SECONDS


def test_outage_attempts_do_not_count_towards_dead_lettering(delays):
    failures = [cassandra.ReadTimeout("slow")] * 10 + [ValueError("bad")] * (MAX_ATTEMPTS - 1)
    projection = FlakyProjection({10: failures})
    dead = Collected()
    run(projection, [record(10)], dead)
    assert dead.sent == [] and projection.applied == [10]


def test_an_undecodable_record_is_dead_lettered_without_retries(delays):
    projection = FlakyProjection({10: UndecodableRecord("not a PostEvent")})
    dead = Collected()
    run(projection, [record(10)], dead)
    assert projection.calls == 1
    assert [offset for offset, _ in dead.sent] == [10]


def test_a_dead_letter_the_broker_refuses_is_sent_again(delays):
    projection = FlakyProjection({10: UndecodableRecord("garbage")})
    dead = Collected(send_failures=3)
    run(projection, [record(10)], dead)
    assert [offset for offset, _ in dead.sent] == [10]


def test_a_kafka_dead_letter_keeps_the_original_bytes_and_says_where_they_came_from():
    sent = []

    async def send_and_wait(topic, *, key, value, headers):
        sent.append((topic, key, value, dict(headers)))

    letters = KafkaDeadLetters("timeline", "p.chirp.deadletter.v1", send_and_wait)
    asyncio.run(letters.send(record(77, b"\x00garbage"), UndecodableRecord("not a PostEvent")))
    [(topic, key, value, headers)] = sent
    assert (topic, key, value) == ("p.chirp.deadletter.v1", b"chirp.post.events.v1:3", b"\x00garbage")
    assert headers["chirp-source-topic"] == b"chirp.post.events.v1"
    assert (headers["chirp-source-partition"], headers["chirp-source-offset"]) == (b"3", b"77")
    assert headers["chirp-source-key"] == b"42"
    assert headers["chirp-dead-letter-projection"] == b"timeline"
    assert b"not a PostEvent" in headers["chirp-dead-letter-error"]
