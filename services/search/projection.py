"""Where an event reaches the search index: the search projection of the post and graph topics.

Every write is keyed (a post by its id, a person by theirs) and Cassandra rows are written at their event's time, so
a re-delivered or replayed event changes nothing. A deletion leaves a tombstone, and a creation applied after it
(a re-delivery) is not indexed. An author who opts out of search (`indexable` false) has every post removed from the
index and no new one added; opting back in indexes their live posts again from `posts_by_author`.

A batch's writes are committed to the index (made durable and searchable) before `apply` returns, and so before
the consumer acknowledges the batch: a crash loses nothing. Commits are paced to at most one per COMMIT_INTERVAL
seconds: under load a batch waits for the next commit, and batches grow instead of commits multiplying.
"""

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.clock import micros_of
from services.runtime.projection.records import Record, envelope_of
from services.search.backends import PersonDocument, PostDocument, SearchBackend
from services.search.repository import BLOCKED_BY, BLOCKS, MUTES, Person, SearchRepository, StoredPost
from services.text.terms import analyze, prefix_words

log = structlog.get_logger(__name__)

# A batch slower than this is logged with where its time went.
SLOW_BATCH_SECONDS = 1.0
# At most this often the index is committed (post to searchable is about this plus the consumer's batching).
COMMIT_INTERVAL = 0.25

_RELATIONS = {
    "user_blocked": (True, "blocker_id", "blocked_id", True),
    "user_unblocked": (False, "blocker_id", "blocked_id", True),
    "user_muted": (True, "muter_id", "muted_id", False),
    "user_unmuted": (False, "muter_id", "muted_id", False),
}


def post_document(post: StoredPost, author: Person | None) -> PostDocument:
    analyzed = analyze(post.text)
    return PostDocument(
        post_id=post.post_id,
        author_id=post.author_id,
        author_handle=author.handle.lower() if author else "",
        text=post.text,
        terms=analyzed.text,
        language=analyzed.language,
        hashtags=analyzed.hashtags,
        create_time_ms=post.create_time_ms,
        in_reply_to_post_id=post.in_reply_to_post_id,
    )


def person_document(person: Person, follower_count: int) -> PersonDocument:
    terms = (*analyze(person.handle).terms, *analyze(person.display_name).terms, *analyze(person.bio).terms)
    return PersonDocument(
        user_id=person.user_id,
        handle=person.handle,
        display_name=person.display_name,
        bio=person.bio,
        terms=" ".join(terms),
        names=(person.handle.lower(), *prefix_words(person.display_name)),
        follower_count=follower_count,
        create_time_ms=person.create_time_ms,
    )


class SearchProjection:
    def __init__(self, repo: SearchRepository, backend: SearchBackend, post_topic: str, graph_topic: str) -> None:
        self._repo = repo
        self._backend = backend
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}
        self._last_commit = 0.0
        # Authors as this process last wrote them (it is their only writer): saves a read per post.
        self._people: dict[int, Person] = {}

    async def apply(self, records: Sequence[Record]) -> None:
        """The batch's events are read in order into what they change (rows to write, documents to index); the
        rows are then written concurrently (each at its event's time, so their order does not matter), and the
        index written and committed."""
        began = time.monotonic()
        batch = _Batch()
        # A record that does not parse raises, and the runner dead-letters it alone.
        envelopes = [envelope_of(record, self._envelopes) for record in records]
        try:
            await self._prefetch(envelopes)
            for envelope in envelopes:
                self._apply(envelope, batch)
            read = time.monotonic()
            posts = len(batch.posts)
            await self._flush(batch)
        except BaseException:
            self._people.clear()  # it may hold what this batch never wrote
            raise
        took = time.monotonic() - began
        if took > SLOW_BATCH_SECONDS:
            log.info(
                "search.slow_batch",
                records=len(records),
                posts=posts,
                events_seconds=round(read - began, 3),
                index_seconds=round(batch.indexed - read, 3),
                commit_seconds=round(time.monotonic() - batch.indexed, 3),
            )

    async def _prefetch(self, envelopes: list) -> None:
        """The people the batch's profiles and posts concern, read at once (concurrently) into the cache."""
        wanted = set()
        for envelope in envelopes:
            kind = envelope.WhichOneof("payload")
            if kind in ("user_created", "profile_updated"):
                wanted.add(getattr(envelope, kind).user.user_id)
            elif kind == "post_created":
                wanted.add(envelope.post_created.post.author_id)
        missing = sorted(wanted - self._people.keys())
        if missing:
            self._people.update(await self._repo.people(missing))

    def _apply(self, envelope, batch: "_Batch") -> None:
        at = micros_of(envelope.occurred_at)
        kind = envelope.WhichOneof("payload")
        repo = self._repo
        if kind in ("user_created", "profile_updated"):
            self._profile(getattr(envelope, kind).user, at, batch)
        elif kind in ("user_followed", "user_unfollowed"):
            change = getattr(envelope, kind)
            active = kind == "user_followed"
            batch.writes.append(functools.partial(repo.set_follow, change.follower_id, change.followee_id, active, at))
            batch.people.add(change.followee_id)
        elif kind in _RELATIONS:
            active, subject, other, both_ways = _RELATIONS[kind]
            change = getattr(envelope, kind)
            actor, target = getattr(change, subject), getattr(change, other)
            if both_ways:
                batch.writes.append(functools.partial(repo.set_relation, actor, BLOCKS, target, active, at))
                batch.writes.append(functools.partial(repo.set_relation, target, BLOCKED_BY, actor, active, at))
            else:
                batch.writes.append(functools.partial(repo.set_relation, actor, MUTES, target, active, at))
        elif kind in ("filter_created", "filter_updated", "filter_deleted"):
            batch.writes.append(functools.partial(repo.filters.apply, envelope, at))
        elif kind == "post_created":
            self._post_created(envelope.post_created.post, at, batch)
        elif kind == "post_deleted":
            deleted = envelope.post_deleted
            batch.writes.append(functools.partial(repo.delete_post, deleted.author_id, deleted.post_id, at))
            batch.posts.pop(deleted.post_id, None)
            batch.deleted.append(deleted.post_id)

    def _profile(self, user: graph_pb2.User, at: int, batch: "_Batch") -> None:
        indexable = user.indexable if user.HasField("indexable") else True
        before = self._people.get(user.user_id)
        person = Person(
            user.user_id,
            user.handle,
            user.display_name,
            user.bio,
            indexable,
            user.create_time.ToMilliseconds(),
        )
        batch.writes.append(functools.partial(self._repo.save_person, person, at))
        self._people[user.user_id] = person
        batch.people.add(user.user_id)
        if before is None or before.indexable != indexable:
            # Opted out or back in, or an account seen after its posts (another topic, another order).
            batch.authors.add(user.user_id)

    def _post_created(self, post: post_pb2.Post, at: int, batch: "_Batch") -> None:
        stored = StoredPost(
            post.post_id, post.author_id, post.text, post.create_time.ToMilliseconds(), post.in_reply_to_post_id
        )
        # Written at the flush, concurrently: rows are written at their event's time, so a deletion later in the
        # batch wins whichever write lands first.
        batch.posts[post.post_id] = stored
        batch.writes.append(functools.partial(self._repo.save_post, stored, at))

    async def _index_author(self, author_id: int, author: Person | None) -> None:
        before = None
        while True:
            page = await self._repo.posts_of(author_id, before)
            if not page:
                return
            await self._backend.index_posts([post_document(post, author) for post in page])
            before = page[-1].post_id

    async def _flush(self, batch: "_Batch") -> None:
        """Write what the batch holds to the index, then commit (paced). Documents are made here, with each
        author as the batch left them."""
        await asyncio.gather(*(write() for write in batch.writes))
        for post_id in await self._repo.deleted(list(batch.posts)):
            del batch.posts[post_id]
        if batch.deleted:
            await self._backend.delete_posts(batch.deleted)
        authors = [(author_id, self._people.get(author_id)) for author_id in sorted(batch.authors)]
        for author_id, author in authors:
            if author is not None and not author.indexable:
                await self._backend.delete_posts_by_author(author_id)
        await asyncio.gather(
            *(self._index_author(a, author) for a, author in authors if author is None or author.indexable)
        )
        documents = []
        for post in batch.posts.values():
            if post.author_id in batch.authors:
                continue  # written just above, from posts_by_author
            author = self._people.get(post.author_id)
            if author is None or author.indexable:
                documents.append(post_document(post, author))
        await self._backend.index_posts(documents)
        if batch.people:
            people = await self._repo.people(sorted(batch.people))
            counts = await asyncio.gather(*(self._repo.follower_count(user_id) for user_id in people))
            await asyncio.gather(
                *(self._repo.save_follower_count(user_id, n) for user_id, n in zip(people, counts, strict=True))
            )
            await self._backend.index_people(
                [person_document(person, count) for person, count in zip(people.values(), counts, strict=True)]
            )
        batch.indexed = time.monotonic()
        wait = self._last_commit + COMMIT_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._backend.refresh()
        self._last_commit = time.monotonic()


class _Batch:
    """What a batch will write to the index at its end."""

    def __init__(self) -> None:
        self.posts: dict[int, StoredPost] = {}
        # Rows to write, each at its event's time (so concurrently, in any order).
        self.writes: list[Callable[[], Awaitable[None]]] = []
        self.deleted: list[int] = []
        # People whose document changes (profile, followers), and authors whose posts are all indexed again or all
        # removed (their indexable changed, or their account arrived).
        self.people: set[int] = set()
        self.authors: set[int] = set()
        self.indexed = 0.0
