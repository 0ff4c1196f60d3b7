"""The post service's Cassandra tables."""

import asyncio
from datetime import datetime

from chirp.post.v1 import post_pb2
from services.post.domain import Reacted, Reaction
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc, timestamp_from_datetime

# Each reaction's table (one row per post and user) and the column of when it was made.
_REACTION_TABLES = {Reaction.LIKE: ("likes", "liked_at"), Reaction.REPOST: ("reposts", "reposted_at")}
_COLUMNS = (
    "post_id, author_id, text, create_time, mentions, hashtags, urls, cashtags, in_reply_to_post_id,"
    " in_reply_to_user_id, conversation_id, quoted_post_id, deleted_at"
)


def _entities(entities) -> list[tuple]:
    return [(e.value, e.start, e.end) for e in entities]


class PostRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def save(self, post: post_pb2.Post) -> None:
        """The post, its place among its author's posts, and the reply or quote edge it makes: one unlogged batch,
        a single request and round trip instead of one per row. Should part of it fail, the caller hears the error
        and `forget`s the rest (an unlogged batch may land in part, each row whole)."""
        rows = [
            (
                f"INSERT INTO {self._ks}.posts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)",
                (
                    post.post_id,
                    post.author_id,
                    post.text,
                    post.create_time.ToDatetime(),
                    [(m.user_id, m.handle, m.start, m.end) for m in post.mentions],
                    _entities(post.hashtags),
                    _entities(post.urls),
                    _entities(post.cashtags),
                    post.in_reply_to_post_id,
                    post.in_reply_to_user_id,
                    post.conversation_id,
                    post.quoted_post_id,
                ),
            ),
            (
                f"INSERT INTO {self._ks}.posts_by_author (author_id, post_id) VALUES (?, ?)",
                (post.author_id, post.post_id),
            ),
        ]
        if post.in_reply_to_post_id:
            rows.append(
                (
                    f"INSERT INTO {self._ks}.replies (parent_id, reply_id) VALUES (?, ?)",
                    (post.in_reply_to_post_id, post.post_id),
                )
            )
        if post.quoted_post_id:
            rows.append(
                (
                    f"INSERT INTO {self._ks}.quotes (quoted_id, quote_id) VALUES (?, ?)",
                    (post.quoted_post_id, post.post_id),
                )
            )
        await self._db.execute_batch(rows)

    async def forget(self, post: post_pb2.Post) -> None:
        """Undo `save` for a post whose event never made it to the log."""
        await self._db.execute_batch(
            [
                (f"DELETE FROM {self._ks}.posts WHERE post_id = ?", (post.post_id,)),
                (
                    f"DELETE FROM {self._ks}.posts_by_author WHERE author_id = ? AND post_id = ?",
                    (post.author_id, post.post_id),
                ),
                (
                    f"DELETE FROM {self._ks}.replies WHERE parent_id = ? AND reply_id = ?",
                    (post.in_reply_to_post_id, post.post_id),
                ),
                (
                    f"DELETE FROM {self._ks}.quotes WHERE quoted_id = ? AND quote_id = ?",
                    (post.quoted_post_id, post.post_id),
                ),
            ]
        )

    async def mark_deleted(self, post_id: int, at: datetime) -> None:
        """Keep the row (ids stay resolvable for threads) but drop the text."""
        await self._db.execute(
            f"UPDATE {self._ks}.posts SET deleted_at = ?, text = null WHERE post_id = ?", (at, post_id)
        )

    async def get(self, post_id: int) -> post_pb2.Post | None:
        """A live post; None when it does not exist or was deleted."""
        rows = await self._db.execute(f"SELECT {_COLUMNS} FROM {self._ks}.posts WHERE post_id = ?", (post_id,))
        if not rows or rows[0].deleted_at is not None:
            return None
        row = rows[0]
        return post_pb2.Post(
            post_id=row.post_id,
            author_id=row.author_id,
            text=row.text,
            create_time=timestamp_from_datetime(as_utc(row.create_time)),
            mentions=[post_pb2.Mention(user_id=u, handle=h, start=s, end=e) for u, h, s, e in row.mentions or ()],
            hashtags=[post_pb2.TextEntity(value=v, start=s, end=e) for v, s, e in row.hashtags or ()],
            urls=[post_pb2.TextEntity(value=v, start=s, end=e) for v, s, e in row.urls or ()],
            cashtags=[post_pb2.TextEntity(value=v, start=s, end=e) for v, s, e in row.cashtags or ()],
            in_reply_to_post_id=row.in_reply_to_post_id or 0,
            in_reply_to_user_id=row.in_reply_to_user_id or 0,
            conversation_id=row.conversation_id or row.post_id,
            quoted_post_id=row.quoted_post_id or 0,
        )

    async def stats(self, post_id: int) -> post_pb2.PostStats:
        """Counts are partition sizes: exact under retries and concurrency, read in one query each."""
        counts = await asyncio.gather(
            *(
                self._db.execute(f"SELECT COUNT(*) AS n FROM {self._ks}.{table} WHERE {column} = ?", (post_id,))
                for table, column in (
                    ("replies", "parent_id"),
                    ("reposts", "post_id"),
                    ("quotes", "quoted_id"),
                    ("likes", "post_id"),
                )
            )
        )
        replies, reposts, quotes, likes = (rows[0].n for rows in counts)
        return post_pb2.PostStats(reply_count=replies, repost_count=reposts, quote_count=quotes, like_count=likes)

    async def count_since(self, author_id: int, first_post_id: int, up_to: int) -> int:
        """How many posts the author made with an id at or above `first_post_id` (i.e. since a moment), counting no
        further than `up_to`: the rate limit only needs to know whether it is reached, not by how much."""
        rows = await self._db.execute(
            f"SELECT post_id FROM {self._ks}.posts_by_author WHERE author_id = ? AND post_id >= ? LIMIT ?",
            (author_id, first_post_id, up_to),
        )
        return len(rows)

    async def reply_ids(self, parent_id: int, after: int, limit: int) -> list[int]:
        rows = await self._db.execute(
            f"SELECT reply_id FROM {self._ks}.replies WHERE parent_id = ? AND reply_id > ? LIMIT ?",
            (parent_id, after, limit),
        )
        return [row.reply_id for row in rows]

    async def reactors(self, reaction: Reaction, post_id: int, after: int, limit: int) -> list[int]:
        """Who liked or reposted a post, ascending, after `after`."""
        table, _ = _REACTION_TABLES[reaction]
        rows = await self._db.execute(
            f"SELECT user_id FROM {self._ks}.{table} WHERE post_id = ? AND user_id > ? LIMIT ?", (post_id, after, limit)
        )
        return [row.user_id for row in rows]

    async def reaction(self, reaction: Reaction, post_id: int, user_id: int) -> Reacted | None:
        if reaction is Reaction.REPOST:
            rows = await self._db.execute(
                f"SELECT reposted_at, repost_id FROM {self._ks}.reposts WHERE post_id = ? AND user_id = ?",
                (post_id, user_id),
            )
            return Reacted(as_utc(rows[0].reposted_at), rows[0].repost_id or 0) if rows else None
        rows = await self._db.execute(
            f"SELECT liked_at FROM {self._ks}.likes WHERE post_id = ? AND user_id = ?", (post_id, user_id)
        )
        return Reacted(as_utc(rows[0].liked_at)) if rows else None

    async def add_reaction(self, reaction: Reaction, post_id: int, user_id: int, reacted: Reacted) -> None:
        if reaction is Reaction.REPOST:
            # The repost by its id first: a crash before the second write leaves an id nothing points to.
            await self._db.execute(
                f"INSERT INTO {self._ks}.reposts_by_id (repost_id, post_id, user_id, reposted_at) VALUES (?, ?, ?, ?)",
                (reacted.repost_id, post_id, user_id, reacted.at),
            )
            await self._db.execute(
                f"INSERT INTO {self._ks}.reposts (post_id, user_id, reposted_at, repost_id) VALUES (?, ?, ?, ?)",
                (post_id, user_id, reacted.at, reacted.repost_id),
            )
            return
        await self._db.execute(
            f"INSERT INTO {self._ks}.likes (post_id, user_id, liked_at) VALUES (?, ?, ?)",
            (post_id, user_id, reacted.at),
        )

    async def repost(self, repost_id: int) -> tuple[int, int, datetime] | None:
        """(post id, reposter, when) of a repost by its id; None when there is none (never, or undone)."""
        rows = await self._db.execute(
            f"SELECT post_id, user_id, reposted_at FROM {self._ks}.reposts_by_id WHERE repost_id = ?", (repost_id,)
        )
        return (rows[0].post_id, rows[0].user_id, as_utc(rows[0].reposted_at)) if rows else None

    async def remove_reaction(self, reaction: Reaction, post_id: int, user_id: int, reacted: Reacted) -> None:
        if reaction is Reaction.REPOST and reacted.repost_id:
            await self._db.execute(f"DELETE FROM {self._ks}.reposts_by_id WHERE repost_id = ?", (reacted.repost_id,))
        table, _ = _REACTION_TABLES[reaction]
        await self._db.execute(f"DELETE FROM {self._ks}.{table} WHERE post_id = ? AND user_id = ?", (post_id, user_id))
