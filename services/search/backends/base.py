"""What a search backend is: the one interface the search service writes to and reads from, whatever engine is
behind it (tantivy embedded in the process, or OpenSearch). tests/e2e/test_search_backends.py holds the tests every
backend must pass.

Contract:
- Documents arrive already analyzed (services/text/terms.py): `terms` is whitespace-separated terms in text
  order, so a backend indexes them with a whitespace tokenizer and no filters of its own; positions give phrases.
  Query terms come analyzed the same way (services/search/domain.py), so both backends match identical terms.
- Writes are idempotent and keyed: a post by `post_id`, a person by `user_id`. Writing a document again replaces
  it; deleting one that is not there does nothing.
- Writes become visible to searches after `refresh()` (a backend may make them visible sooner).
- Every method may be called from the event loop: a backend blocks it for no longer than one small write; slow
  work runs in a thread.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from services.search.domain import PeopleQuery, Query


@dataclass(frozen=True)
class PostDocument:
    post_id: int
    author_id: int
    author_handle: str  # lower-cased; `from:` matches it exactly
    text: str  # as posted (returned, never matched)
    terms: str  # analyzed, whitespace-separated, in text order: what queries match
    language: str  # ISO 639-1 (it ru es fr en de pt ja), "" when unknown
    hashtags: tuple[str, ...]  # lower-cased, NFKC, without "#": what hashtag prefixes and counts read
    create_time_ms: int
    # Why a post is there: a reply or a quote is indexed like any post.
    in_reply_to_post_id: int = 0


@dataclass(frozen=True)
class PersonDocument:
    user_id: int
    handle: str  # as written at creation
    display_name: str
    bio: str
    # Analyzed terms of the handle, the display name and the bio (what a people search matches).
    terms: str
    # Lower-cased, NFKC prefixes are taken of these words: the handle and each word of the display name.
    names: tuple[str, ...]
    follower_count: int
    create_time_ms: int


class Sort(enum.Enum):
    # BM25 of the query's terms, boosted by recency: a post's score is multiplied by 1 + 2 ** (-age / half-life),
    # so that between two equally good matches the newer wins, and a far better old match still beats a new one.
    # A backend may apply the boost to its best few hundred BM25 matches only (tantivy does).
    RELEVANCE = "relevance"
    # Newest first, by (create_time_ms, post_id).
    LATEST = "latest"


@dataclass(frozen=True)
class PostSearch:
    query: Query
    sort: Sort = Sort.RELEVANCE
    limit: int = 20
    # RELEVANCE pages by offset (scores change as posts arrive; a page may repeat or skip one, never fail).
    offset: int = 0
    # LATEST pages by position: only posts strictly older than (create_time_ms, post_id).
    before: tuple[int, int] | None = None
    # Posts by these authors are left out (the reader's blocks, both ways, and mutes), inside the engine, so a page
    # is full whenever matches remain.
    exclude_authors: frozenset[int] = frozenset()
    # "Now" for the recency boost (Unix ms); tests pin it. The boost halves every `half_life_ms` of age.
    now_ms: int = 0
    half_life_ms: int = 24 * 3600 * 1000


@dataclass(frozen=True)
class PostHit:
    post_id: int
    author_id: int
    create_time_ms: int
    score: float  # BM25 with the recency boost for RELEVANCE; 0 for LATEST
    # The document as indexed: what a page shows without another read, and the analyzed terms so the caller can
    # filter hits by the reader's mute words.
    author_handle: str = ""
    text: str = ""
    terms: str = ""
    language: str = ""


@dataclass(frozen=True)
class PostHits:
    hits: list[PostHit]
    # Matches in all (an estimate is fine; at least len(hits)).
    total: int


@dataclass(frozen=True)
class PeopleSearch:
    query: PeopleQuery
    limit: int = 20
    offset: int = 0
    exclude_users: frozenset[int] = frozenset()


@dataclass(frozen=True)
class PersonHit:
    user_id: int
    score: float


@dataclass(frozen=True)
class HashtagCount:
    tag: str  # lower-cased, without "#"
    posts: int  # indexed posts using it


@dataclass
class BackendStats:
    posts: int = 0
    people: int = 0
    details: dict = field(default_factory=dict)


class SearchBackend(Protocol):
    """One version of the search index (a rebuild writes a new one beside it)."""

    async def open(self) -> None:
        """Create the index if missing (its mappings or schema), or open the existing one."""

    async def close(self) -> None:
        """Flush what was written and release the index."""

    async def index_posts(self, posts: Sequence[PostDocument]) -> None: ...

    async def delete_posts(self, post_ids: Sequence[int]) -> None: ...

    async def delete_posts_by_author(self, author_id: int) -> None:
        """Every post of the author (an account that opted out of search, or was removed)."""

    async def index_people(self, people: Sequence[PersonDocument]) -> None: ...

    async def delete_people(self, user_ids: Sequence[int]) -> None: ...

    async def refresh(self) -> None:
        """Make every write so far visible to searches (commit, then reload the readers)."""

    async def search_posts(self, search: PostSearch) -> PostHits: ...

    async def search_people(self, search: PeopleSearch) -> list[PersonHit]:
        """Best first: relevance of handle, name and bio, weighted by log(2 + followers); a handle or name starting
        with the query's prefix ranks above a match in the bio alone."""

    async def hashtags(self, prefix: str, limit: int) -> list[HashtagCount]:
        """Hashtags starting with `prefix` (lower-cased, no "#"), most used first, ties by tag."""

    async def stats(self) -> BackendStats: ...
