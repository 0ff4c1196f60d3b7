"""The OpenSearch backend, for a deployment that outgrows one machine: two indices per version of the projection,
`<keyspace_prefix>_search_v<version>_posts` and `..._people`, on an OpenSearch 2.x cluster (CHIRP_OPENSEARCH_URL).
A rebuild (`chirp projections rebuild search`) writes the next version's indices beside the serving ones, and reads
switch to them with the projection's serving version; the old version's indices stay until an operator deletes them
(DELETE /<keyspace_prefix>_search_v1_*), as the old version's keyspace does.

It ranks what tantivy ranks (services/search/backends/tantivy_backend.py), the same way:
- Documents and queries arrive analyzed by services/text/terms.py; `terms` is indexed with a whitespace tokenizer and
  no filters, with positions for phrases, so both backends hold identical terms.
- BM25 with tantivy's parameters (k1 1.2, b 0.75), one shard by default so the statistics are the index's.
- Relevance: score x (1 + 2 ** (-age / half-life)) as a function_score (a weight of 1 plus an exp decay, summed,
  multiplied in), over every match rather than tantivy's best few hundred; ties by post id, newest first.
- People: score x log2(2 + followers) (field_value_factor ln2p, weighted by 1 / ln 2); names are whole-value terms
  with edge n-grams indexed for typeahead.
- Hashtag counts: a terms aggregation, so deleted posts stop counting at the next refresh.

Writes go through the bulk API without a refresh; `refresh()` refreshes the indices written since the last one (the
projection calls it after each batch), and the index's own refresh_interval (1 s by default) bounds the rest.
"""

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as ClientConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

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

TERMS_ANALYZER = "chirp_terms"
# Documents per bulk request, requests in flight at once (a large batch: the bench's build, a rebuild), and how
# often a bulk item the cluster rejected for load (429) is tried again.
BULK_DOCUMENTS = 1000
BULK_IN_FLIGHT = 2
BULK_ATTEMPTS = 5
# Name matches weigh this much more than bio matches (as in tantivy).
NAME_BOOST = 3.0
# Typeahead: prefixes of this many characters are indexed as terms of their own (longer ones are expanded).
PREFIX_CHARS = (1, 15)
# How deep `from` + `size` may page (OpenSearch's index.max_result_window): relevance pages by offset, and a page
# past this is empty rather than an error. Latest pages with search_after, which has no such limit.
MAX_RESULT_WINDOW = 10_000
# The version of the mappings below, kept in each index's _meta.
MAPPING_VERSION = 1

# opensearch-py logs every request at INFO: a line per bulk, refresh and search. Warnings and errors still show.
logging.getLogger("opensearch").setLevel(logging.WARNING)

_POST_SOURCE = ["post_id", "author_id", "time", "author", "text", "terms", "lang"]


def index_names(prefix: str, version: int) -> tuple[str, str]:
    """The posts and people indices of one version (OpenSearch index names are lower-case)."""
    base = f"{prefix.lower()}_search_v{version}"
    return f"{base}_posts", f"{base}_people"


def _index_settings(settings: Settings) -> dict:
    return {
        "number_of_shards": settings.opensearch_shards,
        "number_of_replicas": settings.opensearch_replicas,
        "refresh_interval": settings.opensearch_refresh_interval,
        # tantivy's BM25 parameters, said out loud (they are Lucene's defaults too).
        "similarity": {"default": {"type": "BM25", "k1": 1.2, "b": 0.75}},
        "analysis": {
            "analyzer": {
                # The terms are analyzed already: split on whitespace, nothing else.
                TERMS_ANALYZER: {"type": "custom", "tokenizer": "whitespace", "filter": []},
            }
        },
    }


POSTS_MAPPINGS = {
    "dynamic": "strict",
    "_meta": {"chirp_mapping_version": MAPPING_VERSION},
    "properties": {
        "post_id": {"type": "long"},
        "author_id": {"type": "long"},
        "time": {"type": "long"},
        "author": {"type": "keyword"},
        "lang": {"type": "keyword"},
        "hashtags": {"type": "keyword"},
        "terms": {"type": "text", "analyzer": TERMS_ANALYZER, "index_options": "positions"},
        # Returned with a hit, never matched.
        "text": {"type": "keyword", "index": False, "doc_values": False},
        "reply_to": {"type": "long", "index": False},
    },
}

PEOPLE_MAPPINGS = {
    "dynamic": "strict",
    "_meta": {"chirp_mapping_version": MAPPING_VERSION},
    "properties": {
        "user_id": {"type": "long"},
        "followers": {"type": "long"},
        # Each name (the handle, each word of the display name) is one term, scored with its field length as
        # tantivy's raw-tokenized field is, and its prefixes are terms too (typeahead).
        "names": {
            "type": "text",
            "analyzer": "keyword",
            "index_options": "freqs",
            "index_prefixes": {"min_chars": PREFIX_CHARS[0], "max_chars": PREFIX_CHARS[1]},
        },
        "terms": {"type": "text", "analyzer": TERMS_ANALYZER, "index_options": "positions"},
    },
}


def _constant(query: dict, boost: float = 0.0) -> dict:
    """A clause that selects without scoring (boost 0), as tantivy's const_score_query(..., 0.0)."""
    return {"constant_score": {"filter": query, "boost": boost}}


def clause_query(clause: Clause) -> dict:
    """The query DSL of one clause of services/search/domain.py, scored as the tantivy backend scores it."""
    if isinstance(clause, Match):
        if clause.phrase and len(clause.terms) > 1:
            return {"match_phrase": {"terms": {"query": " ".join(clause.terms), "analyzer": TERMS_ANALYZER}}}
        if len(clause.terms) == 1:
            return {"term": {"terms": clause.terms[0]}}
        return {"bool": {"must": [{"term": {"terms": term}} for term in clause.terms]}}
    if isinstance(clause, Author):
        return _constant({"term": {"author": clause.handle}})
    if isinstance(clause, Language):
        return _constant({"term": {"lang": clause.code}})
    if isinstance(clause, Or):
        return {"bool": {"should": [clause_query(option) for option in clause.options], "minimum_should_match": 1}}
    if isinstance(clause, Not):
        return {"bool": {"must": [{"match_all": {}}], "must_not": [clause_query(clause.clause)]}}
    raise TypeError(f"not a query clause: {clause!r}")


def posts_query(search: PostSearch) -> dict:
    """The bool query of a post search: the clauses, the time range, the excluded authors."""
    query = search.query
    must = [clause_query(clause) for clause in query.positive] or [{"match_all": {}}]
    must_not = [clause_query(clause) for clause in query.negative]
    if search.exclude_authors:
        must_not.append({"terms": {"author_id": sorted(search.exclude_authors)}})
    filters = []
    if query.since_ms is not None or query.until_ms is not None:
        window: dict[str, int] = {}
        if query.since_ms is not None:
            window["gte"] = query.since_ms
        if query.until_ms is not None:
            window["lt"] = query.until_ms
        filters.append({"range": {"time": window}})
    return {"bool": {"must": must, "filter": filters, "must_not": must_not}}


def posts_body(search: PostSearch) -> dict:
    """The whole _search body of a post search."""
    query = posts_query(search)
    body: dict[str, Any] = {"_source": _POST_SOURCE, "size": search.limit}
    if search.sort is Sort.LATEST:
        body["query"] = query
        body["sort"] = [{"time": "desc"}, {"post_id": "desc"}]
        if search.before is not None:
            body["search_after"] = list(search.before)
        return body
    functions: list[dict] = [{"weight": 1.0}]
    if search.now_ms > 0:
        # 2 ** (-age / half-life): an exp decay of 1/2 at one half-life from now.
        decay = {"origin": search.now_ms, "scale": max(1, search.half_life_ms), "decay": 0.5}
        functions.append({"exp": {"time": decay}})
    else:
        functions.append({"weight": 1.0})  # no "now": every post gets the full boost, as in tantivy
    body["query"] = {
        "function_score": {"query": query, "functions": functions, "score_mode": "sum", "boost_mode": "multiply"}
    }
    body["sort"] = [{"_score": "desc"}, {"post_id": "desc"}]
    body["from"] = search.offset
    body["size"] = max(0, min(search.limit, MAX_RESULT_WINDOW - search.offset))
    # Sorting on _score plus a field: the scores are still wanted in the hits.
    body["track_scores"] = True
    return body


def people_body(search: PeopleSearch) -> dict | None:
    """The _search body of a people search; None when the query can match nobody (no required clause)."""
    query = search.query
    must = [clause_query(clause) for clause in query.clauses]
    should = [{"term": {"names": {"value": word.lower(), "boost": NAME_BOOST}}} for word in query.words]
    if query.prefix:
        must.append(_constant({"prefix": {"names": query.prefix}}, boost=1.0))
    if not must:
        return None
    must_not = [{"terms": {"user_id": sorted(search.exclude_users)}}] if search.exclude_users else []
    scored = {"bool": {"must": must, "should": should, "must_not": must_not}}
    return {
        "_source": False,
        "size": max(0, min(search.limit, MAX_RESULT_WINDOW - search.offset)),
        "from": search.offset,
        "query": {
            "function_score": {
                "query": scored,
                # log2(2 + followers), as tantivy's weight_by_field: ln(2 + followers) / ln 2.
                "functions": [
                    {
                        "field_value_factor": {"field": "followers", "modifier": "ln2p", "missing": 0},
                        "weight": 1.0 / math.log(2.0),
                    }
                ],
                "boost_mode": "multiply",
            }
        },
        "sort": [{"_score": "desc"}, {"user_id": "asc"}],
        "track_scores": True,
    }


def hashtags_body(prefix: str, limit: int) -> dict:
    """Hashtags starting with `prefix`, most used first, ties by tag, counted over the posts in the index."""
    # Lucene's regular expression syntax: a backslash makes any character literal.
    pattern = "".join(ch if ch.isalnum() else "\\" + ch for ch in prefix) + ".*"
    return {
        "size": 0,
        "query": {"prefix": {"hashtags": prefix}} if prefix else {"match_all": {}},
        "aggs": {
            "tags": {
                "terms": {
                    "field": "hashtags",
                    "include": pattern,
                    "size": max(1, limit),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        },
    }


def _post_source(post: PostDocument) -> dict:
    return {
        "post_id": post.post_id,
        "author_id": post.author_id,
        "time": post.create_time_ms,
        "author": post.author_handle,
        "lang": post.language,
        "hashtags": list(post.hashtags),
        "terms": post.terms,
        "text": post.text,
        "reply_to": post.in_reply_to_post_id,
    }


def _person_source(person: PersonDocument) -> dict:
    return {
        "user_id": person.user_id,
        "followers": person.follower_count,
        "names": list(dict.fromkeys(person.names)),
        "terms": person.terms,
    }


class OpenSearchError(RuntimeError):
    """OpenSearch refused a write (the message says which document and why)."""


class OpenSearchUnavailable(ConnectionError):
    """The cluster is not answering, or not yet (unreachable, timed out, overloaded, its shards not started). A
    builtin ConnectionError, so services/runtime/outages.py counts it as an outage: the projection waits and tries
    the same batch again instead of dead-lettering it, and the API answers UNAVAILABLE."""


# What the cluster answers while it is down for a moment: too many requests, a gateway or shards not ready.
_UNAVAILABLE_STATUSES = {429, 502, 503, 504}

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _outages_are_unavailable(method: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    @functools.wraps(method)
    async def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(*args, **kwargs)
        except ClientConnectionError as error:  # refused, reset, timed out (opensearch-py retried it already)
            raise OpenSearchUnavailable(f"OpenSearch is not answering: {error}") from error
        except TransportError as error:
            if error.status_code in _UNAVAILABLE_STATUSES:
                raise OpenSearchUnavailable(f"OpenSearch is not ready: {error}") from error
            raise

    return guarded


def client_for(settings: Settings) -> AsyncOpenSearch:
    """An async client of the cluster CHIRP_OPENSEARCH_URL names, with its credentials if any."""
    hosts = [url.strip() for url in settings.opensearch_url.split(",") if url.strip()]
    options: dict[str, Any] = {"timeout": settings.opensearch_timeout_seconds, "maxsize": 10}
    if settings.opensearch_username:
        with open(settings.opensearch_password_file, encoding="utf-8") as secret:
            options["http_auth"] = (settings.opensearch_username, secret.read().strip())
    if settings.opensearch_ca_file:
        options["ca_certs"] = settings.opensearch_ca_file
        options["verify_certs"] = True
    return AsyncOpenSearch(hosts=hosts, **options)


@_outages_are_unavailable
async def drop_all(settings: Settings) -> None:
    """Delete every version's indices of settings.keyspace_prefix (what a test run or a bench run leaves)."""
    client = client_for(settings)
    try:
        await client.indices.delete(index=f"{settings.keyspace_prefix.lower()}_search_v*", ignore_unavailable=True)
    finally:
        await client.close()


class OpenSearchBackend:
    def __init__(self, settings: Settings, version: int) -> None:
        self.settings = settings
        self.version = version
        self.posts_index, self.people_index = index_names(settings.keyspace_prefix, version)
        self._client: AsyncOpenSearch | None = None
        # Indices written since their last refresh.
        self._dirty: set[str] = set()

    @classmethod
    def for_version(cls, settings: Settings, version: int) -> "OpenSearchBackend":
        return cls(settings, version)

    @property
    def client(self) -> AsyncOpenSearch:
        assert self._client is not None, "open() the backend first"
        return self._client

    @_outages_are_unavailable
    async def open(self) -> None:
        if self._client is not None:
            return
        self._client = client_for(self.settings)
        try:
            created = [
                await self._create(name, mappings)
                for name, mappings in ((self.posts_index, POSTS_MAPPINGS), (self.people_index, PEOPLE_MAPPINGS))
            ]
            if not all(created):
                # An index that exists already may still be recovering after a restart of the cluster (one just
                # created has its primary shard started: create waits for it).
                # (opensearch-py takes `timeout` for the HTTP timeout unless `request_timeout` is given too)
                wait = self.settings.opensearch_timeout_seconds
                await self.client.cluster.health(
                    index=f"{self.posts_index},{self.people_index}",
                    params={"wait_for_status": "yellow", "timeout": f"{int(wait)}s", "request_timeout": wait + 5},
                )
        except BaseException:
            await self._client.close()
            self._client = None
            raise

    async def _create(self, name: str, mappings: dict) -> bool:
        """Create the index unless it exists; whether this call created it."""
        if await self.client.indices.exists(index=name):
            return False
        body = {"settings": {"index": _index_settings(self.settings)}, "mappings": mappings}
        try:
            await self.client.indices.create(index=name, body=body)
        except RequestError as error:
            # Another process (a second replica of the service) created it first.
            if error.error != "resource_already_exists_exception":
                raise
            return False
        return True

    @_outages_are_unavailable
    async def close(self) -> None:
        if self._client is None:
            return
        try:
            await self.refresh()
        finally:
            await self._client.close()
            self._client = None

    @_outages_are_unavailable
    async def drop(self) -> None:
        """Delete this version's indices (a retired version, or a test's)."""
        await self.client.indices.delete(index=f"{self.posts_index},{self.people_index}", ignore_unavailable=True)
        self._dirty.clear()

    # Writes.

    async def _bulk(self, index: str, actions: list[tuple[dict, dict | None]]) -> None:
        """Send (action, source) pairs in requests of BULK_DOCUMENTS, BULK_IN_FLIGHT at a time (a batch names each
        document once, so their order does not matter)."""
        chunks = [actions[start : start + BULK_DOCUMENTS] for start in range(0, len(actions), BULK_DOCUMENTS)]
        if len(chunks) == 1:
            await self._bulk_request(index, chunks[0])
            return
        slots = asyncio.Semaphore(BULK_IN_FLIGHT)

        async def send(chunk: list[tuple[dict, dict | None]]) -> None:
            async with slots:
                await self._bulk_request(index, chunk)

        await asyncio.gather(*(send(chunk) for chunk in chunks))

    async def _bulk_request(self, index: str, pending: list[tuple[dict, dict | None]]) -> None:
        """One bulk request, trying the items the cluster rejected for load (429) again with a backoff."""
        for attempt in range(BULK_ATTEMPTS):
            body: list[dict] = []
            for action, source in pending:
                body.append(action)
                if source is not None:
                    body.append(source)
            answer = await self.client.bulk(body=body, index=index)
            self._dirty.add(index)
            if not answer["errors"]:
                break
            retry = []
            for (action, source), item in zip(pending, answer["items"], strict=True):
                kind, result = next(iter(item.items()))
                status = result.get("status", 200)
                if status < 300 or (kind == "delete" and status == 404):
                    continue
                if status == 429:
                    if attempt + 1 == BULK_ATTEMPTS:
                        raise OpenSearchUnavailable(f"OpenSearch keeps rejecting writes to {index} for load (429)")
                    retry.append((action, source))
                    continue
                raise OpenSearchError(f"{kind} of {result.get('_id')} in {index} failed: {result.get('error')}")
            if not retry:
                break
            pending = retry
            await asyncio.sleep(0.1 * 2**attempt)

    @_outages_are_unavailable
    async def index_posts(self, posts: Sequence[PostDocument]) -> None:
        if posts:
            await self._bulk(self.posts_index, [({"index": {"_id": str(p.post_id)}}, _post_source(p)) for p in posts])

    @_outages_are_unavailable
    async def delete_posts(self, post_ids: Sequence[int]) -> None:
        if post_ids:
            await self._bulk(self.posts_index, [({"delete": {"_id": str(post_id)}}, None) for post_id in post_ids])

    @_outages_are_unavailable
    async def delete_posts_by_author(self, author_id: int) -> None:
        # _delete_by_query sees what the last refresh made visible: refresh first, or the author's newest posts
        # would stay.
        if self.posts_index in self._dirty:
            await self._refresh([self.posts_index])
        await self.client.delete_by_query(
            index=self.posts_index,
            body={"query": {"term": {"author_id": author_id}}},
            conflicts="proceed",
            slices="auto",
        )
        self._dirty.add(self.posts_index)

    @_outages_are_unavailable
    async def index_people(self, people: Sequence[PersonDocument]) -> None:
        if people:
            actions = [({"index": {"_id": str(p.user_id)}}, _person_source(p)) for p in people]
            await self._bulk(self.people_index, actions)

    @_outages_are_unavailable
    async def delete_people(self, user_ids: Sequence[int]) -> None:
        if user_ids:
            await self._bulk(self.people_index, [({"delete": {"_id": str(user_id)}}, None) for user_id in user_ids])

    @_outages_are_unavailable
    async def refresh(self) -> None:
        if self._dirty:
            await self._refresh(sorted(self._dirty))

    async def _refresh(self, indices: Iterable[str]) -> None:
        names = list(indices)
        await self.client.indices.refresh(index=",".join(names))
        self._dirty.difference_update(names)

    # Reads.

    @_outages_are_unavailable
    async def search_posts(self, search: PostSearch) -> PostHits:
        body = posts_body(search)
        if body["size"] == 0:
            return PostHits([], 0)
        answer = await self.client.search(index=self.posts_index, body=body)
        hits = []
        for hit in answer["hits"]["hits"]:
            source = hit["_source"]
            score = hit.get("_score") if search.sort is Sort.RELEVANCE else 0.0
            hits.append(
                PostHit(
                    post_id=source["post_id"],
                    author_id=source["author_id"],
                    create_time_ms=source["time"],
                    score=float(score or 0.0),
                    author_handle=source.get("author", ""),
                    text=source.get("text", ""),
                    terms=source.get("terms", ""),
                    language=source.get("lang", ""),
                )
            )
        return PostHits(hits, max(len(hits), answer["hits"]["total"]["value"]))

    @_outages_are_unavailable
    async def search_people(self, search: PeopleSearch) -> list[PersonHit]:
        body = people_body(search)
        if body is None or body["size"] == 0:
            return []
        answer = await self.client.search(index=self.people_index, body=body)
        return [PersonHit(int(hit["_id"]), float(hit.get("_score") or 0.0)) for hit in answer["hits"]["hits"]]

    @_outages_are_unavailable
    async def hashtags(self, prefix: str, limit: int) -> list[HashtagCount]:
        if limit <= 0:
            return []
        answer = await self.client.search(index=self.posts_index, body=hashtags_body(prefix, limit))
        buckets = answer["aggregations"]["tags"]["buckets"]
        return [HashtagCount(bucket["key"], bucket["doc_count"]) for bucket in buckets][:limit]

    @_outages_are_unavailable
    async def stats(self) -> BackendStats:
        posts = await self.client.count(index=self.posts_index)
        people = await self.client.count(index=self.people_index)
        details: dict[str, Any] = {
            "url": self.settings.opensearch_url,
            "indices": [self.posts_index, self.people_index],
        }
        try:
            store = await self.client.indices.stats(index=self.posts_index, metric="store")
            details["posts_bytes"] = store["_all"]["primaries"]["store"]["size_in_bytes"]
        except (NotFoundError, TransportError):
            pass
        return BackendStats(posts=posts["count"], people=people["count"], details=details)
