"""The embedded search backend: two tantivy indexes (posts, people) on this machine's disk, under
`<CHIRP_SEARCH_INDEX_DIR>/v<version>/`. BM25 is tantivy's; terms arrive analyzed (services/text/terms.py) and are
indexed with tantivy's whitespace tokenizer, with positions for phrases.

One process owns an index: tantivy allows one writer per directory (it holds a lock file), so the search service
runs as one process (role all: projection and API) when it uses this backend. Searches run in threads (tantivy
releases the GIL while it searches); writes are serialized by a lock and run in a thread too.
"""

import asyncio
import math
import os
import re
import time
from collections.abc import Sequence

import tantivy

from services.runtime.config import Settings
from services.search.backends.base import (
    BackendStats,
    HashtagCount,
    PeopleSearch,
    PersonDocument,
    PersonHit,
    PostDocument,
    PostHit,
    PostHits,
    PostSearch,
    Sort,
)
from services.search.domain import Author, Clause, Language, Match, Not, Or

TERMS_TOKENIZER = "chirp_terms"
OPEN_WAIT_SECONDS = 30
# The recency boost is applied to this many of the best BM25 matches (at least offset + limit of them).
RESCORED = 200
# Writer memory (split across its threads) and threads: the search service shares a small machine.
WRITER_HEAP_BYTES = 64_000_000
WRITER_THREADS = 1
# Name matches (typeahead and the handle or a word of the name) weigh this much more than bio matches.
NAME_BOOST = 3.0


def _posts_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("post_id", stored=True, indexed=True, fast=True)
    builder.add_integer_field("author_id", stored=True, indexed=True, fast=True)
    builder.add_integer_field("time", stored=True, indexed=True, fast=True)
    builder.add_text_field("author", stored=True, tokenizer_name="raw")
    builder.add_text_field("lang", stored=True, tokenizer_name="raw")
    builder.add_text_field("hashtags", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("terms", stored=True, tokenizer_name=TERMS_TOKENIZER, index_option="position")
    builder.add_text_field("text", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


def _people_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("user_id", stored=True, indexed=True, fast=True)
    builder.add_integer_field("followers", stored=True, indexed=False, fast=True)
    builder.add_text_field("names", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("terms", stored=False, tokenizer_name=TERMS_TOKENIZER, index_option="position")
    return builder.build()


class _Index:
    """One tantivy index with its writer, opened on first use."""

    def __init__(self, path: str, schema: tantivy.Schema) -> None:
        os.makedirs(path, exist_ok=True)
        self.schema = schema
        self.index = tantivy.Index(schema, path=path, reuse=True)
        self.index.register_tokenizer(
            TERMS_TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        )
        self.index.config_reader(reload_policy="Manual")
        self.writer = self.index.writer(WRITER_HEAP_BYTES, WRITER_THREADS)
        self.dirty = False

    def term(self, field: str, value) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, field, value)

    def commit(self) -> None:
        if self.dirty:
            self.writer.commit()
            self.dirty = False
        self.index.reload()

    def close(self) -> None:
        self.commit()
        self.writer.wait_merging_threads()


class TantivyBackend:
    def __init__(self, path: str) -> None:
        self.path = path
        self._posts: _Index | None = None
        self._people: _Index | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_version(cls, settings: Settings, version: int) -> "TantivyBackend":
        return cls(os.path.join(settings.search_index_dir, f"v{version}"))

    @property
    def posts(self) -> _Index:
        assert self._posts is not None, "open() the backend first"
        return self._posts

    @property
    def people(self) -> _Index:
        assert self._people is not None, "open() the backend first"
        return self._people

    async def open(self) -> None:
        """Opens both indexes for writing. Another process holding the writer lock (a rebuild handing over to the
        service) is waited for, up to OPEN_WAIT_SECONDS."""
        deadline = time.monotonic() + OPEN_WAIT_SECONDS
        while self._posts is None:
            try:
                self._posts = await asyncio.to_thread(_Index, os.path.join(self.path, "posts"), _posts_schema())
                self._people = await asyncio.to_thread(_Index, os.path.join(self.path, "people"), _people_schema())
            except ValueError as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                self._posts = None
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        async with self._lock:
            for index in (self._posts, self._people):
                if index is not None:
                    await asyncio.to_thread(index.close)
            self._posts = self._people = None

    # Writes.

    async def index_posts(self, posts: Sequence[PostDocument]) -> None:
        if not posts:
            return
        async with self._lock:
            await asyncio.to_thread(self._index_posts, posts)

    def _index_posts(self, posts: Sequence[PostDocument]) -> None:
        index = self.posts
        for post in posts:
            index.writer.delete_documents_by_term("post_id", post.post_id)
            document = tantivy.Document(
                post_id=post.post_id,
                author_id=post.author_id,
                time=post.create_time_ms,
                author=post.author_handle,
                lang=post.language,
                terms=post.terms,
                text=post.text,
            )
            for tag in post.hashtags:
                document.add_text("hashtags", tag)
            index.writer.add_document(document)
        index.dirty = True

    async def delete_posts(self, post_ids: Sequence[int]) -> None:
        if not post_ids:
            return
        async with self._lock:
            for post_id in post_ids:
                self.posts.writer.delete_documents_by_term("post_id", post_id)
            self.posts.dirty = True

    async def delete_posts_by_author(self, author_id: int) -> None:
        async with self._lock:
            self.posts.writer.delete_documents_by_term("author_id", author_id)
            self.posts.dirty = True

    async def index_people(self, people: Sequence[PersonDocument]) -> None:
        if not people:
            return
        async with self._lock:
            await asyncio.to_thread(self._index_people, people)

    def _index_people(self, people: Sequence[PersonDocument]) -> None:
        index = self.people
        for person in people:
            index.writer.delete_documents_by_term("user_id", person.user_id)
            document = tantivy.Document(user_id=person.user_id, followers=person.follower_count, terms=person.terms)
            for name in dict.fromkeys(person.names):
                document.add_text("names", name)
            index.writer.add_document(document)
        index.dirty = True

    async def delete_people(self, user_ids: Sequence[int]) -> None:
        if not user_ids:
            return
        async with self._lock:
            for user_id in user_ids:
                self.people.writer.delete_documents_by_term("user_id", user_id)
            self.people.dirty = True

    async def refresh(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._refresh)

    def _refresh(self) -> None:
        self.posts.commit()
        self.people.commit()

    # Reads.

    async def search_posts(self, search: PostSearch) -> PostHits:
        return await asyncio.to_thread(self._search_posts, search)

    def _search_posts(self, search: PostSearch) -> PostHits:
        index = self.posts
        query = self._post_query(search)
        searcher = index.index.searcher()
        if search.sort is Sort.LATEST:
            # A few more than the page, put in (time, id) order here: tantivy orders by time alone.
            found = searcher.search(query, search.limit + 8, count=True, order_by_field="time")
            addresses = [address for _, address in found.hits]
            scores = [0.0] * len(addresses)
        else:
            window = max(RESCORED, 2 * (search.offset + search.limit))
            found = searcher.search(query, window, count=True)
            addresses = [address for _, address in found.hits]
            scores = [score for score, _ in found.hits]
        if not addresses:
            return PostHits([], found.count)
        times = searcher.fast_field_values("time", addresses)
        post_ids = searcher.fast_field_values("post_id", addresses)
        if search.sort is Sort.LATEST:
            order = sorted(range(len(addresses)), key=lambda i: (times[i], post_ids[i]), reverse=True)
            page = order[: search.limit]
        else:
            half_life = max(1, search.half_life_ms)
            boosted = [
                score * (1.0 + math.pow(2.0, -max(0, search.now_ms - time) / half_life))
                for score, time in zip(scores, times, strict=True)
            ]
            order = sorted(range(len(addresses)), key=lambda i: (boosted[i], post_ids[i]), reverse=True)
            scores = boosted
            page = order[search.offset : search.offset + search.limit]
        hits = []
        for i in page:
            document = searcher.doc(addresses[i])
            hits.append(
                PostHit(
                    post_id=post_ids[i],
                    author_id=document.get_first("author_id"),
                    create_time_ms=times[i],
                    score=scores[i],
                    author_handle=document.get_first("author") or "",
                    text=document.get_first("text") or "",
                    terms=document.get_first("terms") or "",
                    language=document.get_first("lang") or "",
                )
            )
        return PostHits(hits, found.count)

    def _post_query(self, search: PostSearch) -> tantivy.Query:
        index = self.posts
        query = search.query
        must = [self._clause(clause) for clause in query.positive]
        must_not = [self._clause(clause) for clause in query.negative]
        if search.exclude_authors:
            must_not.append(tantivy.Query.term_set_query(index.schema, "author_id", sorted(search.exclude_authors)))
        filters = []
        if query.since_ms is not None or query.until_ms is not None:
            filters.append(
                tantivy.Query.range_query(
                    index.schema,
                    "time",
                    tantivy.FieldType.Integer,
                    query.since_ms,
                    None if query.until_ms is None else query.until_ms - 1,
                )
            )
        if search.sort is Sort.LATEST and search.before is not None:
            time, post_id = search.before
            older = tantivy.Query.range_query(index.schema, "time", tantivy.FieldType.Integer, None, time - 1)
            tie = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, index.term("time", time)),
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.range_query(
                            index.schema, "post_id", tantivy.FieldType.Integer, None, post_id - 1
                        ),
                    ),
                ]
            )
            filters.append(tantivy.Query.boolean_query([(tantivy.Occur.Should, older), (tantivy.Occur.Should, tie)]))
        if not must:
            must.append(tantivy.Query.all_query())
        clauses = [(tantivy.Occur.Must, clause) for clause in must]
        # Filters do not score.
        clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(clause, 0.0)) for clause in filters]
        clauses += [(tantivy.Occur.MustNot, clause) for clause in must_not]
        return tantivy.Query.boolean_query(clauses)

    def _clause(self, clause: Clause, index: _Index | None = None) -> tantivy.Query:
        index = index or self.posts
        if isinstance(clause, Match):
            if clause.phrase and len(clause.terms) > 1:
                return tantivy.Query.phrase_query(index.schema, "terms", list(clause.terms))
            if len(clause.terms) == 1:
                return index.term("terms", clause.terms[0])
            return tantivy.Query.boolean_query([(tantivy.Occur.Must, index.term("terms", t)) for t in clause.terms])
        if isinstance(clause, Author):
            return tantivy.Query.const_score_query(index.term("author", clause.handle), 0.0)
        if isinstance(clause, Language):
            return tantivy.Query.const_score_query(index.term("lang", clause.code), 0.0)
        if isinstance(clause, Or):
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, self._clause(o, index)) for o in clause.options])
        if isinstance(clause, Not):
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, tantivy.Query.all_query()),
                    (tantivy.Occur.MustNot, self._clause(clause.clause, index)),
                ]
            )
        raise TypeError(f"not a query clause: {clause!r}")

    async def search_people(self, search: PeopleSearch) -> list[PersonHit]:
        return await asyncio.to_thread(self._search_people, search)

    def _search_people(self, search: PeopleSearch) -> list[PersonHit]:
        index = self.people
        schema = index.schema
        clauses = [(tantivy.Occur.Must, self._clause(clause, index)) for clause in search.query.clauses]
        # A word of the query that is a handle or a whole word of a name weighs more than a word of the bio.
        for word in search.query.words:
            clauses.append(
                (tantivy.Occur.Should, tantivy.Query.boost_query(index.term("names", word.lower()), NAME_BOOST))
            )
        if search.query.prefix:
            pattern = re.escape(search.query.prefix) + ".*"
            clauses.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.const_score_query(tantivy.Query.regex_query(schema, "names", pattern), 1.0),
                )
            )
        if not any(occur == tantivy.Occur.Must for occur, _ in clauses):
            return []
        if search.exclude_users:
            clauses.append(
                (tantivy.Occur.MustNot, tantivy.Query.term_set_query(schema, "user_id", sorted(search.exclude_users)))
            )
        searcher = index.index.searcher()
        found = searcher.search(
            tantivy.Query.boolean_query(clauses),
            search.limit,
            count=False,
            offset=search.offset,
            weight_by_field="followers",
        )
        addresses = [address for _, address in found.hits]
        user_ids = searcher.fast_field_values("user_id", addresses) if addresses else []
        hits = [PersonHit(user_id, score) for (score, _), user_id in zip(found.hits, user_ids, strict=True)]
        # Ties (typeahead: the same followers) by user id, so pages are stable.
        return sorted(hits, key=lambda hit: (-hit.score, hit.user_id))

    async def hashtags(self, prefix: str, limit: int) -> list[HashtagCount]:
        return await asyncio.to_thread(self._hashtags, prefix, limit)

    def _hashtags(self, prefix: str, limit: int) -> list[HashtagCount]:
        searcher = self.posts.index.searcher()
        # A filter query makes the counts leave out deleted posts (the term dictionary alone counts them until
        # their segment is merged).
        found = searcher.terms_with_prefix("hashtags", prefix, filter_query=tantivy.Query.all_query(), limit=limit)
        return [HashtagCount(tag, count) for tag, count in found if count > 0]

    async def stats(self) -> BackendStats:
        posts = self.posts.index.searcher().num_docs
        people = self.people.index.searcher().num_docs
        return BackendStats(posts=posts, people=people, details={"path": self.path})
