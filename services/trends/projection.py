"""Where posts, likes and follows become uses of terms: the trends projection of the post and graph topics.

Every write is keyed by the facts of its event ((scope, hour, kind, term, account, source), (followee,
follower), ...) and made at the event's time, so a re-delivered event or a replay leaves the same rows. Nothing
written depends on the order in which the two topics, or two partitions, are applied: weights (an account's age
and followers) are looked up when trends are read, never frozen into a row. Only events of one key are read in
order (a post's creation before its likes and its deletion, which share the author's key).
"""

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.clock import micros_of
from services.runtime.projection.records import Record, envelope_of
from services.text.terms import analyze
from services.trends.domain import (
    GLOBAL,
    LIKE_SOURCE,
    REPOST_SOURCE,
    Kind,
    Use,
    day_of,
    hashtag_term,
    hour_of,
    link_term,
    post_term,
    signature,
)
from services.trends.repository import Reaction, StoredPost, TrendsRepository

_REACTIONS = {
    "post_liked": (LIKE_SOURCE, True),
    "post_unliked": (LIKE_SOURCE, False),
    "post_reposted": (REPOST_SOURCE, True),
    "repost_undone": (REPOST_SOURCE, False),
}
_HIDING = {
    "user_blocked": ("block", True, "blocker_id", "blocked_id"),
    "user_unblocked": ("block", False, "blocker_id", "blocked_id"),
    "user_muted": ("mute", True, "muter_id", "muted_id"),
    "user_unmuted": ("mute", False, "muter_id", "muted_id"),
}


def scopes_of(language: str) -> tuple[str, ...]:
    """Every use counts in all languages and, when the analyzer found one, in its language."""
    return (GLOBAL, language) if language else (GLOBAL,)


def terms_of(post: post_pb2.Post, hashtags: Sequence[str]) -> tuple[tuple[Kind, str], ...]:
    """The terms a post uses: its hashtags (as the analyzer folds them), its links (normalized), and the posts it
    answers or quotes (unless they are its author's own)."""
    found: list[tuple[Kind, str]] = [(Kind.HASHTAG, hashtag_term(tag)) for tag in hashtags]
    for entity in post.urls:
        link = link_term(entity.value)
        if link and (Kind.LINK, link) not in found:
            found.append((Kind.LINK, link))
    if post.in_reply_to_post_id and post.in_reply_to_user_id != post.author_id:
        found.append((Kind.POST, post_term(post.in_reply_to_post_id)))
    if post.quoted_post_id and (Kind.POST, post_term(post.quoted_post_id)) not in found:
        found.append((Kind.POST, post_term(post.quoted_post_id)))
    return tuple(found)


class TrendsProjection:
    def __init__(self, repo: TrendsRepository, post_topic: str, graph_topic: str) -> None:
        self._repo = repo
        self._envelopes = {post_topic: post_pb2.PostEvent, graph_topic: graph_pb2.GraphEvent}

    async def apply(self, records: Sequence[Record]) -> None:
        """Events of one key in order, keys concurrently (they commute: see the module's docstring)."""
        by_key: dict[tuple[str, bytes | None], list] = defaultdict(list)
        for record in records:
            # A record that does not parse raises, and the runner dead-letters it alone.
            by_key[(record.topic, record.key)].append(envelope_of(record, self._envelopes))

        async def in_order(events: list) -> None:
            for event in events:
                await self._apply(event)

        await asyncio.gather(*(in_order(events) for events in by_key.values()))

    async def _apply(self, envelope) -> None:
        at = micros_of(envelope.occurred_at)
        kind = envelope.WhichOneof("payload")
        if kind == "user_created":
            user = envelope.user_created.user
            created = user.create_time.ToMilliseconds() if user.HasField("create_time") else at // 1000
            await self._repo.save_account(user.user_id, user.handle, created, at)
        elif kind in ("user_followed", "user_unfollowed"):
            edge = getattr(envelope, kind)
            await self._repo.set_follower(edge.followee_id, edge.follower_id, kind == "user_followed", at)
        elif kind in _HIDING:
            relation, active, subject, other = _HIDING[kind]
            change = getattr(envelope, kind)
            await self._repo.set_hidden(getattr(change, subject), getattr(change, other), relation, active, at)
        elif kind in ("filter_created", "filter_updated", "filter_deleted"):
            await self._repo.filters.apply(envelope, at)
        elif kind == "post_created":
            await self._post_created(envelope.post_created.post, at)
        elif kind == "post_deleted":
            await self._post_deleted(envelope.post_deleted.post_id, at)
        elif kind in _REACTIONS:
            source, added = _REACTIONS[kind]
            reaction = getattr(envelope, kind)
            if reaction.user_id == reaction.author_id:
                return  # liking or reposting one's own post promotes nothing
            if added:
                await self._reacted(reaction.post_id, reaction.user_id, source, at)
            else:
                await self._reaction_undone(reaction.post_id, reaction.user_id, source, at)

    async def _post_created(self, post: post_pb2.Post, at: int) -> None:
        analyzed = analyze(post.text)
        created_ms = post.create_time.ToMilliseconds() if post.HasField("create_time") else at // 1000
        terms = terms_of(post, analyzed.hashtags)
        await self._repo.save_post(
            StoredPost(post.post_id, post.author_id, post.text, analyzed.language, created_ms, terms), at
        )
        use = Use(post.author_id, post.post_id, created_ms, signature(analyzed.terms))
        await asyncio.gather(
            *(
                self._repo.add_use(scope, kind, term, use, hour_of(created_ms), day_of(created_ms), at)
                for kind, term in terms
                for scope in scopes_of(analyzed.language)
            )
        )

    async def _post_deleted(self, post_id: int, at: int) -> None:
        """Its uses go (at the deletion's time, so a re-delivered creation stays deleted), and so does the post,
        which ends its own trend and its samples."""
        stored = (await self._repo.posts([post_id])).get(post_id)
        if stored is None:
            return
        hour, day = hour_of(stored.create_ms), day_of(stored.create_ms)
        await asyncio.gather(
            *(
                self._repo.remove_use(scope, kind, term, stored.author_id, post_id, hour, day, at)
                for kind, term in stored.terms
                for scope in scopes_of(stored.language)
            )
        )
        await self._repo.delete_post(post_id, at)

    async def _reacted(self, post_id: int, user_id: int, source: int, at: int) -> None:
        """A like or repost of a post is a use of the post by the account, in the post's language. The post was
        applied before (its creation has the same key)."""
        liked = (await self._repo.posts([post_id])).get(post_id)
        if liked is None:
            return  # deleted (or never seen): nothing to promote
        at_ms = at // 1000
        await self._repo.save_reaction(post_id, user_id, source, Reaction(at_ms, liked.language), at)
        use = Use(user_id, source, at_ms)
        await asyncio.gather(
            *(
                self._repo.add_use(scope, Kind.POST, post_term(post_id), use, hour_of(at_ms), day_of(at_ms), at)
                for scope in scopes_of(liked.language)
            )
        )

    async def _reaction_undone(self, post_id: int, user_id: int, source: int, at: int) -> None:
        reaction = await self._repo.reaction(post_id, user_id, source)
        if reaction is None:
            return
        hour, day = hour_of(reaction.at_ms), day_of(reaction.at_ms)
        await asyncio.gather(
            *(
                self._repo.remove_use(scope, Kind.POST, post_term(post_id), user_id, source, hour, day, at)
                for scope in scopes_of(reaction.language)
            )
        )
        await self._repo.delete_reaction(post_id, user_id, source, at)
