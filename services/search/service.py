"""What a search does beyond the index: honour the reader (blocks both ways, mutes, and their own filters), page
without ever returning an empty page while matches remain, and hydrate people.

The reader's mute-word filters plug in as a `ReaderFilters` (`ProjectedFilters`: the filters the projection keeps
of the graph topic): given the reader, a predicate over hits (each carries its analyzed terms, so
`services.text.filters.matching` hides every inflection of a muted word). Hits it rejects are dropped and the
service fetches further (over-fetching) until the page is full or the matches run out.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from services.search.backends import (
    HashtagCount,
    PeopleSearch,
    PostHit,
    PostSearch,
    SearchBackend,
    Sort,
)
from services.search.domain import parse, parse_people
from services.search.repository import Person, SearchRepository
from services.text.filters import CONTEXTS, hiding, matching

# A hit the reader keeps (True) or hides.
HitFilter = Callable[[PostHit], bool]

# How many rounds of over-fetching a page may take, and the most one round asks for.
MAX_ROUNDS = 8
MAX_FETCH = 1000


class ReaderFilters(Protocol):
    async def for_reader(self, reader_id: int, context: str) -> HitFilter | None:
        """The reader's filter for `context` ("search"), or None when they have none."""


class NoFilters:
    async def for_reader(self, reader_id: int, context: str) -> HitFilter | None:
        return None


class ProjectedFilters:
    """The readers' filters as the search projection keeps them (`reader_filters`, from the graph topic): a search
    is Mastodon's "public" context; a hit a "hide" filter in force matches, in any inflection, is dropped."""

    def __init__(self, repository: Callable[[], Awaitable[SearchRepository]], now_ms: Callable[[], int]) -> None:
        self._repository = repository
        self._now_ms = now_ms

    async def for_reader(self, reader_id: int, context: str) -> HitFilter | None:
        repo = await self._repository()
        hides = hiding(await repo.filters.of(reader_id), CONTEXTS["public"], self._now_ms())
        if not hides:
            return None
        return lambda hit: not matching(hides, terms=hit.terms.split())


@dataclass(frozen=True)
class PostPage:
    hits: list[PostHit]
    # Where the next page starts: an offset into the ranking (relevance), or the (time, id) of the last hit
    # examined (latest). None: no more.
    next_offset: int | None
    next_before: tuple[int, int] | None
    total: int


@dataclass(frozen=True)
class PersonResult:
    person: Person
    follower_count: int
    score: float


class SearchService:
    def __init__(
        self,
        repository: Callable[[], Awaitable[SearchRepository]],
        backend: Callable[[SearchRepository], Awaitable[SearchBackend]],
        filters: ReaderFilters,
        now_ms: Callable[[], int],
        half_life_ms: int,
    ) -> None:
        self._repository = repository
        self._backend = backend
        self._filters = filters
        self._now_ms = now_ms
        self._half_life_ms = half_life_ms

    async def search_posts(
        self,
        text: str,
        reader_id: int,
        sort: Sort,
        limit: int,
        offset: int = 0,
        before: tuple[int, int] | None = None,
    ) -> PostPage:
        query = parse(text)
        repo = await self._repository()
        backend = await self._backend(repo)
        hidden = await repo.hidden_from(reader_id) if reader_id else frozenset()
        keep = await self._filters.for_reader(reader_id, "search") if reader_id else None
        search = PostSearch(
            query=query,
            sort=sort,
            limit=limit,
            offset=offset,
            before=before,
            exclude_authors=hidden,
            now_ms=self._now_ms(),
            half_life_ms=self._half_life_ms,
        )
        if keep is None:
            found = await backend.search_posts(search)
            more = len(found.hits) == limit
            last = found.hits[-1] if found.hits else None
            return PostPage(
                found.hits,
                offset + limit if more and sort is Sort.RELEVANCE else None,
                (last.create_time_ms, last.post_id) if more and last and sort is Sort.LATEST else None,
                found.total,
            )
        return await self._filtered(backend, search, keep)

    async def _filtered(self, backend: SearchBackend, search: PostSearch, keep: HitFilter) -> PostPage:
        """Over-fetch: ask for more than a page, drop what the reader filters out, ask again from where the last
        round stopped, until the page is full or the matches run out."""
        page: list[PostHit] = []
        fetch = min(MAX_FETCH, search.limit * 2)
        offset, before = search.offset, search.before
        total = 0
        exhausted = False
        for _ in range(MAX_ROUNDS):
            found = await backend.search_posts(
                PostSearch(
                    query=search.query,
                    sort=search.sort,
                    limit=fetch,
                    offset=offset,
                    before=before,
                    exclude_authors=search.exclude_authors,
                    now_ms=search.now_ms,
                    half_life_ms=search.half_life_ms,
                )
            )
            total = found.total
            for hit in found.hits:
                offset += 1
                before = (hit.create_time_ms, hit.post_id)
                if keep(hit):
                    page.append(hit)
                    if len(page) == search.limit:
                        break
            if len(page) == search.limit:
                break
            if len(found.hits) < fetch:
                exhausted = True
                break
            fetch = min(MAX_FETCH, fetch * 4)
        more = not exhausted
        return PostPage(
            page,
            offset if more and search.sort is Sort.RELEVANCE else None,
            before if more and search.sort is Sort.LATEST else None,
            total,
        )

    async def search_people(
        self, text: str, reader_id: int, prefix: bool, limit: int, offset: int
    ) -> tuple[list[PersonResult], bool]:
        """A page of people, and whether there may be more."""
        query = parse_people(text, prefix)
        repo = await self._repository()
        backend = await self._backend(repo)
        hidden = await repo.hidden_from(reader_id) if reader_id else frozenset()
        hits = await backend.search_people(
            PeopleSearch(query, limit=limit + 1, offset=offset, exclude_users=hidden | {reader_id} - {0})
        )
        more = len(hits) > limit
        hits = hits[:limit]
        people = await repo.people([hit.user_id for hit in hits])
        return [
            PersonResult(people[hit.user_id], people[hit.user_id].follower_count, hit.score)
            for hit in hits
            if hit.user_id in people
        ], more

    async def hashtags(self, prefix: str, limit: int) -> list[HashtagCount]:
        repo = await self._repository()
        backend = await self._backend(repo)
        tag = prefix.lstrip("#＃")
        from services.text.terms import fold_case

        return await backend.hashtags(fold_case(tag), limit)
