"""Open-loop and closed-loop drivers that record latencies in HDR histograms.

Open loop: requests go out at their intended times whatever the server does, and latency is measured from the
intended time, not from when the request actually left. A stalled server (or a stalled client loop) therefore shows
as latency instead of silently lowering the offered load (no coordinated omission).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

from hdrh.histogram import HdrHistogram

Operation = Callable[[int], Awaitable[object]]

MAX_LATENCY_US = 120_000_000


class Latencies:
    """One HDR histogram (microseconds, 3 significant digits) plus the errors and the wall time it covers."""

    def __init__(self) -> None:
        self.histogram = HdrHistogram(1, MAX_LATENCY_US, 3)
        self.errors = 0
        self.ok = 0
        self.error_kinds: dict[str, int] = {}
        self.seconds = 0.0
        # The same requests split by kind (the operations of a mixed load), when the driver is given `kind_of`.
        self.parts: dict[str, Latencies] = {}

    def part(self, kind: str) -> "Latencies":
        return self.parts.setdefault(kind, Latencies())

    def record(self, seconds: float, ok: bool = True) -> None:
        """A latency; `ok=False` for a request that timed out, recorded at its full latency but not as done."""
        self.histogram.record_value(min(MAX_LATENCY_US, max(1, round(seconds * 1e6))))
        self.ok += ok

    def add(self, other: "Latencies") -> None:
        """Another run's requests and time into these (the slices of an interleaved comparison)."""
        self.histogram.add(other.histogram)
        self.errors += other.errors
        self.ok += other.ok
        for kind, count in other.error_kinds.items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + count
        self.seconds += other.seconds

    def failed(self, error: BaseException) -> None:
        self.errors += 1
        kind = getattr(error, "code", lambda: None)()
        name = kind.name if kind is not None and hasattr(kind, "name") else type(error).__name__
        self.error_kinds[name] = self.error_kinds.get(name, 0) + 1

    def summary(self) -> dict:
        """Percentiles in milliseconds (timed-out requests included), and the rate of requests answered."""
        h = self.histogram
        ms = lambda q: round(h.get_value_at_percentile(q) / 1000, 3)  # noqa: E731
        count = h.get_total_count()
        return {
            "count": count,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "seconds": round(self.seconds, 3),
            "rate": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": ms(50),
            "p90_ms": ms(90),
            "p99_ms": ms(99),
            "p999_ms": ms(99.9),
            "max_ms": round(h.get_max_value() / 1000, 3),
            "mean_ms": round(h.get_mean_value() / 1000, 3),
            **({"by_kind": {kind: part.summary() for kind, part in self.parts.items()}} if self.parts else {}),
        }


async def open_loop(
    offsets: list[float],
    operation: Operation,
    *,
    timeout: float = 10.0,
    tick: Callable[[], None] | None = None,
    kind_of: Callable[[int], str] | None = None,
) -> Latencies:
    """Start operation(i) at each intended offset (seconds from now); a request that fails or times out counts as an
    error, and a timed-out one is also recorded at its full latency so percentiles cannot hide it."""
    latencies = Latencies()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    in_flight: set[asyncio.Task] = set()

    async def timed(index: int, intended: float) -> None:
        into = [latencies, latencies.part(kind_of(index))] if kind_of else [latencies]
        try:
            await asyncio.wait_for(operation(index), timeout)
            for each in into:
                each.record(loop.time() - intended)
        except TimeoutError as error:
            for each in into:
                each.record(loop.time() - intended, ok=False)
                each.failed(error)
        except Exception as error:  # noqa: BLE001 - any failure of the system under test is a measured error
            for each in into:
                each.failed(error)
        if tick:
            tick()

    for index, offset in enumerate(offsets):
        intended = start + offset
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(timed(index, intended))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)
    latencies.seconds = max(loop.time() - start, offsets[-1] if offsets else 0.0)
    for part in latencies.parts.values():
        part.seconds = latencies.seconds
    return latencies


async def closed_loop(
    concurrency: int, duration: float, operation: Operation, *, tick: Callable[[], None] | None = None
) -> Latencies:
    """`concurrency` callers back to back for `duration` seconds: the most the system completes, and its service
    time at that concurrency (this is a capacity probe, not a latency measurement)."""
    latencies = Latencies()
    counter = iter(range(10**12))
    deadline = time.monotonic() + duration

    async def caller() -> None:
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                await operation(next(counter))
                latencies.record(time.monotonic() - began)
            except Exception as error:  # noqa: BLE001 - measured, not raised
                latencies.failed(error)
            if tick:
                tick()

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    latencies.seconds = time.monotonic() - began
    return latencies
