"""The posting rate limit, counted in memory: a post reads the author's stored posts only when the count may be near
the limit, or was last read long ago.

Reading the window on every post was a read of up to `limit` rows ahead of every write, the first of CreatePost's
three waits. Here a process keeps, per author, the count it last read plus the posts it stored since, and the posts
it is storing now. That count only ever overestimates (posts leaving the window are not subtracted until the next
read), so the memory alone can refuse nothing wrongly: whenever it says the author is within NEAR of the limit, the
stored count is read again, and only that exact figure refuses.

Within one process "300 means 300" holds however many calls arrive at once: the check and the reservation are one
step under the author's lock, and reservations in flight count. Across replicas, each learns of the others' posts at
its next read: at the latest REFRESH_SECONDS later, and always within NEAR of the limit, so the limit holds exactly
unless an author posts more than NEAR times in REFRESH_SECONDS through other replicas (a load balancer keeping an
author on one replica closes that too).
"""

import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from services.runtime.clock import now_ms
from services.runtime.errors import ResourceExhausted
from services.runtime.ids import first_id_at
from services.runtime.locks import KeyedLocks

# How long a count read from Cassandra is trusted for posts through other replicas.
REFRESH_SECONDS = 10.0
# Authors whose counts one process keeps; the least recently posting are forgotten (and read again if they post).
MAX_AUTHORS = 100_000

# (author id, the first post id inside the window, how many to count at most) -> stored posts counted
CountSince = Callable[[int, int, int], Awaitable[int]]


@dataclass
class _Count:
    stored: int  # posts in the window at the last read, plus those this process stored since
    in_flight: int  # reserved posts not yet stored, or failed and not yet released
    read_at: float  # monotonic seconds


class RateWindow:
    def __init__(
        self,
        limit: int,
        window_seconds: int,
        count_since: CountSince,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._limit = limit
        self._window_ms = window_seconds * 1000
        self._count_since = count_since
        self._clock = clock
        self._wall_ms = wall_ms
        self._near = max(1, limit // 10)
        self._counts: OrderedDict[int, _Count] = OrderedDict()
        self._locks = KeyedLocks()

    @contextlib.asynccontextmanager
    async def post(self, author_id: int) -> AsyncIterator[None]:
        """Reserve one post of the author's window for the block, which stores it: RESOURCE_EXHAUSTED when the
        window is full. The post counts once the block ends without an error; an error gives the place back."""
        if self._limit <= 0:
            yield  # turned off
            return
        count = await self._reserve(author_id)
        try:
            yield
        except BaseException:
            count.in_flight -= 1
            raise
        count.in_flight -= 1
        count.stored += 1

    async def _reserve(self, author_id: int) -> _Count:
        async with self._locks.hold(author_id):
            count = self._counts.get(author_id)
            if count is None or self._stale(count) or count.stored + count.in_flight + 1 > self._limit - self._near:
                stored = await self._count_since(author_id, first_id_at(self._wall_ms() - self._window_ms), self._limit)
                if count is None:
                    count = _Count(stored, 0, self._clock())
                else:
                    count.stored, count.read_at = stored, self._clock()
            if count.stored + count.in_flight >= self._limit:
                hours = self._window_ms / 3_600_000
                raise ResourceExhausted(
                    "POST_RATE_LIMITED",
                    f"an account can post at most {self._limit} times in {hours:g} hours; try again later",
                    limit=str(self._limit),
                )
            count.in_flight += 1
            self._remember(author_id, count)
            return count

    def _stale(self, count: _Count) -> bool:
        return self._clock() - count.read_at > REFRESH_SECONDS

    def _remember(self, author_id: int, count: _Count) -> None:
        self._counts[author_id] = count
        self._counts.move_to_end(author_id)
        while len(self._counts) > MAX_AUTHORS:
            oldest, forgotten = next(iter(self._counts.items()))
            if forgotten.in_flight:
                break  # still posting: forgotten once its posts are settled and it is the oldest again
            del self._counts[oldest]
