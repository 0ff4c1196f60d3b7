"""Request limits per account and per client address, as Mastodon sets them (300 and 7,500 requests in 5
minutes), with its X-RateLimit-Limit, -Remaining and -Reset headers. Each replica counts in its own memory (the
edge keeps no state elsewhere), so behind N replicas a client may get up to N times the limit: the limits protect
the services, they are not a quota."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.edge.errors import HttpError

# Windows are forgotten once this many keys are counted and theirs has ended.
MAX_KEYS = 100_000


@dataclass(frozen=True)
class Verdict:
    limit: int
    remaining: int
    reset_at: float  # Unix seconds

    def headers(self) -> dict[str, str]:
        reset = datetime.fromtimestamp(self.reset_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": reset,
        }


class FixedWindows:
    """At most `limit` hits per key in each window of `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        start, count = self._counts.get(key, (now, 0))
        if now - start >= self._window:
            start, count = now, 0
        count += 1
        if len(self._counts) >= MAX_KEYS and key not in self._counts:
            self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self._window}
        self._counts[key] = (start, count)
        return Verdict(self._limit, self._limit - count, start + self._window)


class RateLimits:
    def __init__(self, per_account: int, per_address: int, window: float) -> None:
        self._accounts = FixedWindows(per_account, window)
        self._addresses = FixedWindows(per_address, window)

    def check(self, address: str, account: int | None) -> Verdict:
        """The verdict whose headers the response carries (the account's when there is one); 429 past either."""
        verdicts = [self._addresses.hit(address)]
        if account:
            verdicts.append(self._accounts.hit(str(account)))
        for verdict in verdicts:
            if verdict.remaining < 0:
                headers = verdict.headers() | {"Retry-After": str(max(1, int(verdict.reset_at - time.time())))}
                raise HttpError(429, "Too many requests", headers)
        return verdicts[-1]
