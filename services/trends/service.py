"""Reading trends: from the uses the projection wrote to ranked, explained trends, at read time.

For a scope and kind, every REFRESH_SECONDS at most:

1. the last hour of the scope (two hour partitions, read whole) gives every term used in it;
2. each term's accounts are weighed (creation time and followers, cached ACCOUNT_SECONDS) and the
   MAX_CANDIDATES terms with the most weighted accounts before near-duplicate grouping are kept: the others
   cannot trend, since grouping only lowers a count;
3. each candidate's baseline windows (the same hour on each of the last 7 days: one slice of two partitions per
   day, cached SLICE_SECONDS since they no longer change but for deletions) are read, and every candidate is
   counted and scored (services/trends/domain.py).

A reader's trends re-score the same candidates without the accounts the reader blocks or mutes (one partition
read, at most MAX_HIDDEN rows) from what step 3 read: no more reads than a public request but that one.

Nothing here is kept anywhere but in memory: the trends are a function of the tables and of the moment, so a
replica that restarts, or a rebuilt version, gives the same answer for the same moment.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import structlog

from chirp.graph.v1 import graph_pb2
from services.runtime.clock import now_ms
from services.text.filters import CONTEXTS, hiding, matching
from services.trends.domain import (
    BASELINE_DAYS,
    DAY_MS,
    SINCE_LOOKBACK_MS,
    SINCE_STEP_MS,
    WINDOW_MS,
    Account,
    Count,
    Kind,
    Use,
    baseline,
    count,
    day_of,
    hour_of,
    in_window,
    reason,
    score,
    trending_since,
    trends,
    weights_of,
    window_hours,
)
from services.trends.repository import StoredPost, TrendsRepository

log = structlog.get_logger(__name__)

# How long a computed ranking serves before it is computed again.
REFRESH_SECONDS = 10.0
# How long what weighs an account, and a slice of an hour that is over, are kept in memory. Both bound how long
# a deletion in a baseline hour takes to count; a deletion in the last hour counts at the next refresh.
ACCOUNT_SECONDS = 30.0
SLICE_SECONDS = 45.0
# Terms scored exactly per scope and kind, and the most trends a ranking keeps.
MAX_CANDIDATES = 40
MAX_TRENDS = 20
MAX_SAMPLES = 3
# Entries a cache may hold before it is emptied.
MAX_CACHED = 200_000


@dataclass(frozen=True)
class Sample:
    post_id: int
    author_id: int
    author_handle: str
    text: str
    create_ms: int


@dataclass(frozen=True)
class TrendView:
    kind: Kind
    term: str
    scope: str
    score: float
    since_ms: int
    accounts: int
    posts: int
    weighted: float
    baseline_weighted: float
    baseline_accounts: float
    reason: str
    samples: tuple[Sample, ...]
    # (midnight of the day in ms, accounts, uses), today first.
    history: tuple[tuple[int, int, int], ...]


@dataclass
class _Candidate:
    kind: Kind
    term: str
    current: list[Use]
    baselines: list[list[Use]]


@dataclass
class _Scored:
    candidate: _Candidate
    count: Count
    usual: float
    usual_accounts: float
    score: float


@dataclass
class _Snapshot:
    at_ms: int
    candidates: list[_Candidate]
    accounts: dict[int, Account]
    views: list[TrendView] = field(default_factory=list)


class _TtlCache:
    def __init__(self) -> None:
        self._entries: dict = {}

    def get(self, key, clock: float):
        entry = self._entries.get(key)
        if entry is not None and entry[0] > clock:
            return entry[1]
        return None

    def put(self, key, value, expires: float) -> None:
        if len(self._entries) > MAX_CACHED:
            self._entries.clear()
        self._entries[key] = (expires, value)

    def clear(self) -> None:
        self._entries.clear()


def unfiltered(views: list[TrendView], hides: list[graph_pb2.Filter]) -> list[TrendView]:
    """The trends without what the reader's "hide" filters match: a hashtag whose words match, a post whose text
    does, and of the rest the sample posts that do."""
    shown = []
    for view in views:
        if view.kind is Kind.HASHTAG and matching(hides, f"#{view.term}"):
            continue
        samples = tuple(sample for sample in view.samples if not matching(hides, sample.text))
        if view.kind is Kind.POST and len(samples) < len(view.samples):
            continue
        shown.append(replace(view, samples=samples))
    return shown


class TrendsReader:
    def __init__(
        self,
        repository: Callable[[], Awaitable[TrendsRepository]],
        clock: Callable[[], int] = now_ms,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        """`repository` gives the serving version's repository (it may change after a rebuild); `clock` the moment
        trends are computed for, in Unix milliseconds."""
        self._repository = repository
        self._clock = clock
        self._refresh = refresh_seconds
        self._repo: TrendsRepository | None = None
        self._snapshots: dict[tuple[str, Kind], tuple[float, _Snapshot]] = {}
        self._locks: dict[tuple[str, Kind], asyncio.Lock] = {}
        self._refreshing: dict[tuple[str, Kind], asyncio.Task] = {}
        self._accounts = _TtlCache()
        self._slices = _TtlCache()
        self._days = _TtlCache()

    async def trends(self, kind: Kind, scope: str) -> list[TrendView]:
        """The public trends of a scope, highest score first (at most MAX_TRENDS)."""
        return (await self._snapshot(kind, scope)).views

    async def reader_trends(self, kind: Kind, scope: str, reader_id: int) -> list[TrendView]:
        """The trends as `reader_id` sees them: the accounts they block or mute count for nothing, and what their
        "hide" filters of the public context match is left out (`unfiltered`)."""
        repo = await self._current_repo()
        hidden, filters = await asyncio.gather(repo.hidden_by(reader_id), repo.filters.of(reader_id))
        snapshot = await self._snapshot(kind, scope)
        views = snapshot.views if not hidden else await self._views(repo, snapshot, scope, hidden)
        hides = hiding(filters, CONTEXTS["public"], self._clock())
        return unfiltered(views, hides) if hides else views

    async def _current_repo(self) -> TrendsRepository:
        repo = await self._repository()
        if repo is not self._repo:  # another version serves: nothing cached holds for it
            self._repo = repo
            self._snapshots.clear()
            self._accounts.clear()
            self._slices.clear()
            self._days.clear()
        return repo

    async def _snapshot(self, kind: Kind, scope: str) -> _Snapshot:
        """The ranking of a scope and kind: computed on the first request, then served while a newer one is
        computed in the background once it is REFRESH_SECONDS old, so no read waits for a computation but the
        first (with `refresh_seconds` 0, as tests use it, every read computes)."""
        repo = await self._current_repo()
        key = (scope, kind)
        cached = self._snapshots.get(key)
        if cached is not None and self._refresh > 0:
            if time.monotonic() - cached[0] >= self._refresh and key not in self._refreshing:
                task = asyncio.create_task(self._recompute(repo, kind, scope))
                self._refreshing[key] = task
                task.add_done_callback(lambda _: self._refreshing.pop(key, None))
            return cached[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._snapshots.get(key)
            if cached is not None and time.monotonic() - cached[0] < self._refresh:
                return cached[1]
            return await self._recompute(repo, kind, scope)

    async def _recompute(self, repo: TrendsRepository, kind: Kind, scope: str) -> _Snapshot:
        began = time.monotonic()
        try:
            snapshot = await self._compute(repo, kind, scope, self._clock())
            snapshot.views = await self._views(repo, snapshot, scope, frozenset())
        except Exception as error:
            if (scope, kind) not in self._snapshots:
                raise
            # The ranking already served stays until a computation succeeds (Cassandra away, say).
            log.warning("trends.refresh_failed", scope=scope, kind=kind.value, error=repr(error))
            return self._snapshots[(scope, kind)][1]
        self._snapshots[(scope, kind)] = (began, snapshot)
        return snapshot

    async def _compute(self, repo: TrendsRepository, kind: Kind, scope: str, now: int) -> _Snapshot:
        hours = await asyncio.gather(*(repo.hour_uses(scope, hour, kind) for hour in window_hours(now)))
        by_term: dict[str, list[Use]] = {}
        for found in hours:
            for term, uses in found.items():
                by_term.setdefault(term, []).extend(in_window(uses, now))
        by_term = {term: uses for term, uses in by_term.items() if uses}
        accounts = await self._weigh(repo, {use.account_id for uses in by_term.values() for use in uses})
        bound = {
            term: sum(weights_of(uses, accounts).values()) for term, uses in by_term.items()
        }  # grouping near-duplicates only lowers this
        ranked = sorted((term for term in by_term if trends(bound[term], 0.0)), key=lambda t: (-bound[t], t))
        if kind is Kind.POST:
            existing = await repo.posts(int(term) for term in ranked[: 2 * MAX_CANDIDATES])
            ranked = [term for term in ranked if int(term) in existing]
        chosen = ranked[:MAX_CANDIDATES]
        candidates = []
        for term, baselines in zip(
            chosen,
            await asyncio.gather(*(self._baselines(repo, scope, kind, term, now) for term in chosen)),
            strict=True,
        ):
            candidates.append(_Candidate(kind, term, by_term[term], baselines))
        accounts |= await self._weigh(
            repo, {use.account_id for c in candidates for uses in c.baselines for use in uses} - accounts.keys()
        )
        return _Snapshot(now, candidates, accounts)

    async def _baselines(self, repo: TrendsRepository, scope: str, kind: Kind, term: str, now: int) -> list[list[Use]]:
        ends = [now - days * DAY_MS for days in range(1, BASELINE_DAYS + 1)]
        return [in_window(await self._term_uses(repo, scope, kind, term, window_hours(end)), end) for end in ends]

    async def _term_uses(
        self, repo: TrendsRepository, scope: str, kind: Kind, term: str, hours: Sequence[int]
    ) -> list[Use]:
        clock = time.monotonic()

        async def one(hour: int) -> list[Use]:
            key = (scope, hour, kind, term)
            cached = self._slices.get(key, clock)
            if cached is not None:
                return cached
            uses = await repo.term_uses(scope, hour, kind, term)
            if hour < hour_of(self._clock()):  # an hour that is over changes only by deletions
                self._slices.put(key, uses, clock + SLICE_SECONDS)
            return uses

        return [use for uses in await asyncio.gather(*(one(hour) for hour in hours)) for use in uses]

    async def _weigh(self, repo: TrendsRepository, account_ids: set[int]) -> dict[int, Account]:
        clock = time.monotonic()
        found: dict[int, Account] = {}
        missing = []
        for account_id in account_ids:
            cached = self._accounts.get(account_id, clock)
            if cached is None:
                missing.append(account_id)
            else:
                found[account_id] = cached
        for start in range(0, len(missing), 500):
            fetched = await repo.accounts(missing[start : start + 500])
            for account_id, account in fetched.items():
                self._accounts.put(account_id, account, clock + ACCOUNT_SECONDS)
            found |= fetched
        return found

    def _score(self, snapshot: _Snapshot, hidden: frozenset[int]) -> list[_Scored]:
        scored = []
        for candidate in snapshot.candidates:
            current = count(candidate.current, weights_of(candidate.current, snapshot.accounts), hidden)
            usual_counts = [count(uses, weights_of(uses, snapshot.accounts), hidden) for uses in candidate.baselines]
            usual = baseline([c.weighted for c in usual_counts])
            if trends(current.weighted, usual):
                usual_accounts = baseline([c.accounts for c in usual_counts])
                scored.append(_Scored(candidate, current, usual, usual_accounts, score(current.weighted, usual)))
        scored.sort(key=lambda s: (-s.score, s.candidate.term))
        return scored[:MAX_TRENDS]

    async def _views(
        self, repo: TrendsRepository, snapshot: _Snapshot, scope: str, hidden: frozenset[int]
    ) -> list[TrendView]:
        scored = self._score(snapshot, hidden)
        details = await asyncio.gather(*(self._details(repo, snapshot, scope, s, hidden) for s in scored))
        return [
            TrendView(
                kind=s.candidate.kind,
                term=s.candidate.term,
                scope=scope,
                score=s.score,
                since_ms=since,
                accounts=s.count.accounts,
                posts=s.count.posts,
                weighted=s.count.weighted,
                baseline_weighted=s.usual,
                baseline_accounts=s.usual_accounts,
                reason=reason(s.count, s.usual_accounts, s.usual),
                samples=samples,
                history=history,
            )
            for s, (since, samples, history) in zip(scored, details, strict=True)
        ]

    async def _details(
        self, repo: TrendsRepository, snapshot: _Snapshot, scope: str, scored: _Scored, hidden: frozenset[int]
    ) -> tuple[int, tuple[Sample, ...], tuple[tuple[int, int, int], ...]]:
        since, samples, history = await asyncio.gather(
            self._since(repo, snapshot, scope, scored, hidden),
            self._samples(repo, scored, hidden),
            self._history(repo, scope, scored.candidate, snapshot.at_ms),
        )
        return since, samples, history

    async def _since(
        self, repo: TrendsRepository, snapshot: _Snapshot, scope: str, scored: _Scored, hidden: frozenset[int]
    ) -> int:
        """Steps back SINCE_STEP_MS at a time while the term still trended against today's baseline."""
        now = snapshot.at_ms
        candidate = scored.candidate
        hours = list(range(hour_of(now - SINCE_LOOKBACK_MS - WINDOW_MS), hour_of(now) + 1))
        uses = await self._term_uses(repo, scope, candidate.kind, candidate.term, hours)
        accounts = snapshot.accounts | await self._weigh(
            repo, {use.account_id for use in uses} - snapshot.accounts.keys()
        )
        trending_at = [True]
        for step in range(1, SINCE_LOOKBACK_MS // SINCE_STEP_MS + 1):
            end = now - step * SINCE_STEP_MS
            window = in_window(uses, end)
            if not trends(count(window, weights_of(window, accounts), hidden).weighted, scored.usual):
                break
            trending_at.append(True)
        return trending_since(trending_at, now)

    async def _samples(self, repo: TrendsRepository, scored: _Scored, hidden: frozenset[int]) -> tuple[Sample, ...]:
        """The trending post itself for a post; else one post per group of near-duplicates, heaviest first."""
        candidate = scored.candidate
        if candidate.kind is Kind.POST:
            ids = [int(candidate.term)]
        else:
            ids = [g.sample.source_id for g in scored.count.groups if g.sample.source_id > 0][:MAX_SAMPLES]
        posts = await repo.posts(ids)
        shown: list[StoredPost] = [posts[i] for i in ids if i in posts and posts[i].author_id not in hidden]
        handles = await repo.handles({post.author_id for post in shown})
        return tuple(
            Sample(post.post_id, post.author_id, handles.get(post.author_id, ""), post.text, post.create_ms)
            for post in shown
        )

    async def _history(
        self, repo: TrendsRepository, scope: str, candidate: _Candidate, now: int
    ) -> tuple[tuple[int, int, int], ...]:
        today = day_of(now)
        clock = time.monotonic()

        async def one(day: int) -> tuple[int, int, int]:
            key = (scope, candidate.kind, candidate.term, day)
            cached = self._days.get(key, clock)
            if cached is None:
                cached = await repo.day_uses(scope, candidate.kind, candidate.term, day)
                self._days.put(key, cached, clock + (SLICE_SECONDS if day < today else self._refresh))
            return day * DAY_MS, cached[0], cached[1]

        return tuple(await asyncio.gather(*(one(today - back) for back in range(BASELINE_DAYS))))
