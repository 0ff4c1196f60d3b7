"""The graph service's Cassandra tables."""

import asyncio

from chirp.graph.v1 import graph_pb2
from services.graph.domain import Follow, Restriction, RestrictionKind, Stats, User
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc

_RESTRICTION_TABLES = {RestrictionKind.BLOCK: "blocks", RestrictionKind.MUTE: "mutes"}


class GraphRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def claim_handle(self, key: str, user: User, request_id: str) -> tuple[bool, dict]:
        """Reserve a handle with a lightweight transaction. Returns (claimed, the row that holds it)."""
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.users_by_handle (handle_key, user_id, handle, display_name, create_time, "
            "request_id)"
            " VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS",
            (key, user.user_id, user.handle, user.display_name, user.create_time, request_id),
            idempotent=False,
        )
        row = rows[0]._asdict()  # the driver names the "[applied]" column "applied"
        return row["applied"], row

    async def save_user(self, user: User) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name, create_time) VALUES (?, ?, ?, ?)",
            (user.user_id, user.handle, user.display_name, user.create_time),
        )

    async def save_profile(self, user: User) -> None:
        await self._db.execute(
            f"UPDATE {self._ks}.users SET display_name = ?, bio = ?, update_time = ?, indexable = ? WHERE user_id = ?",
            (user.display_name, user.bio, user.update_time, user.indexable, user.user_id),
        )

    async def get_user(self, user_id: int) -> User | None:
        rows = await self._db.execute(
            f"SELECT user_id, handle, display_name, create_time, bio, update_time, indexable FROM {self._ks}.users "
            "WHERE user_id = ?",
            (user_id,),
        )
        return _user(rows[0]) if rows else None

    async def get_users(self, user_ids: list[int]) -> list[User]:
        found = await asyncio.gather(*(self.get_user(user_id) for user_id in user_ids))
        return [user for user in found if user is not None]

    async def user_id_by_handle(self, key: str) -> int | None:
        rows = await self._db.execute(f"SELECT user_id FROM {self._ks}.users_by_handle WHERE handle_key = ?", (key,))
        return rows[0].user_id if rows else None

    async def stats(self, user_id: int) -> Stats:
        """Counted from the rows themselves, so a count always agrees with the list it counts.

        COUNT(*) reads the whole partition (and its tombstones): fine up to some hundred thousand rows per user.
        """
        followers, following, posts = await asyncio.gather(
            self._db.execute(f"SELECT COUNT(*) AS n FROM {self._ks}.followers WHERE followee_id = ?", (user_id,)),
            self._db.execute(f"SELECT COUNT(*) AS n FROM {self._ks}.following WHERE follower_id = ?", (user_id,)),
            self._db.execute(f"SELECT COUNT(*) AS n FROM {self._ks}.posts_by_author WHERE author_id = ?", (user_id,)),
        )
        return Stats(followers[0].n, following[0].n, posts[0].n)

    async def get_follow(self, follower_id: int, followee_id: int) -> Follow | None:
        rows = await self._db.execute(
            f"SELECT followed_at FROM {self._ks}.following WHERE follower_id = ? AND followee_id = ?",
            (follower_id, followee_id),
        )
        return Follow(follower_id, followee_id, as_utc(rows[0].followed_at)) if rows else None

    async def save_follow(self, follow: Follow) -> None:
        """Both directions in one logged batch, with one write time: a failure or a racing unfollow can never leave
        one direction without the other (a retry would see the edge and not write the missing half)."""
        await self._db.execute(
            f"BEGIN BATCH"
            f" INSERT INTO {self._ks}.following (follower_id, followee_id, followed_at) VALUES (?, ?, ?);"
            f" INSERT INTO {self._ks}.followers (followee_id, follower_id, followed_at) VALUES (?, ?, ?);"
            " APPLY BATCH",
            (
                follow.follower_id,
                follow.followee_id,
                follow.followed_at,
                follow.followee_id,
                follow.follower_id,
                follow.followed_at,
            ),
        )

    async def delete_follow(self, follower_id: int, followee_id: int) -> None:
        """Like save_follow, both directions or neither."""
        await self._db.execute(
            f"BEGIN BATCH"
            f" DELETE FROM {self._ks}.following WHERE follower_id = ? AND followee_id = ?;"
            f" DELETE FROM {self._ks}.followers WHERE followee_id = ? AND follower_id = ?;"
            " APPLY BATCH",
            (follower_id, followee_id, followee_id, follower_id),
        )

    async def list_edges(self, direction: str, user_id: int, after: int, limit: int) -> list[int]:
        """Ids on the other end of `user_id`'s edges, ascending, after `after`. `direction` is followers|following."""
        own, other = ("followee_id", "follower_id") if direction == "followers" else ("follower_id", "followee_id")
        rows = await self._db.execute(
            f"SELECT {other} FROM {self._ks}.{direction} WHERE {own} = ? AND {other} > ? LIMIT ?",
            (user_id, after, limit),
        )
        return [getattr(row, other) for row in rows]

    async def list_restrictions(self, kind: RestrictionKind, user_id: int, after: int, limit: int) -> list[int]:
        """Whom `user_id` blocks or mutes, ascending, after `after`."""
        rows = await self._db.execute(
            f"SELECT target_id FROM {self._ks}.{_RESTRICTION_TABLES[kind]} WHERE user_id = ? AND target_id > ? LIMIT ?",
            (user_id, after, limit),
        )
        return [row.target_id for row in rows]

    async def get_restriction(self, kind: RestrictionKind, user_id: int, target_id: int) -> Restriction | None:
        rows = await self._db.execute(
            f"SELECT since FROM {self._ks}.{_RESTRICTION_TABLES[kind]} WHERE user_id = ? AND target_id = ?",
            (user_id, target_id),
        )
        return Restriction(kind, user_id, target_id, as_utc(rows[0].since)) if rows else None

    async def save_restriction(self, restriction: Restriction) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.{_RESTRICTION_TABLES[restriction.kind]} (user_id, target_id, since) VALUES (?, "
            "?, ?)",
            (restriction.user_id, restriction.target_id, restriction.since),
        )

    async def delete_restriction(self, kind: RestrictionKind, user_id: int, target_id: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.{_RESTRICTION_TABLES[kind]} WHERE user_id = ? AND target_id = ?",
            (user_id, target_id),
        )

    async def save_filter(self, filter_: graph_pb2.Filter) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.filters (user_id, filter_id, filter) VALUES (?, ?, ?)",
            (filter_.user_id, filter_.filter_id, filter_.SerializeToString()),
        )

    async def get_filter(self, user_id: int, filter_id: int) -> graph_pb2.Filter | None:
        rows = await self._db.execute(
            f"SELECT filter FROM {self._ks}.filters WHERE user_id = ? AND filter_id = ?", (user_id, filter_id)
        )
        return graph_pb2.Filter.FromString(rows[0].filter) if rows else None

    async def list_filters(self, user_id: int, after: int, limit: int) -> list[graph_pb2.Filter]:
        """The user's filters by id (so oldest first), after `after`."""
        rows = await self._db.execute(
            f"SELECT filter FROM {self._ks}.filters WHERE user_id = ? AND filter_id > ? LIMIT ?",
            (user_id, after, limit),
        )
        return [graph_pb2.Filter.FromString(row.filter) for row in rows]

    async def count_filters(self, user_id: int) -> int:
        rows = await self._db.execute(f"SELECT COUNT(*) AS n FROM {self._ks}.filters WHERE user_id = ?", (user_id,))
        return rows[0].n

    async def delete_filter(self, user_id: int, filter_id: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.filters WHERE user_id = ? AND filter_id = ?", (user_id, filter_id)
        )

    async def add_post(self, author_id: int, post_id: int, at: int) -> None:
        """`at`: the event's time in microseconds, as the write time, so replays and reorderings change nothing."""
        await self._db.execute(
            f"INSERT INTO {self._ks}.posts_by_author (author_id, post_id) VALUES (?, ?) USING TIMESTAMP ?",
            (author_id, post_id, at),
        )

    async def remove_post(self, author_id: int, post_id: int, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.posts_by_author USING TIMESTAMP ? WHERE author_id = ? AND post_id = ?",
            (at, author_id, post_id),
        )


def _user(row) -> User:
    return User(
        row.user_id,
        row.handle,
        row.display_name,
        as_utc(row.create_time),
        row.bio or "",
        as_utc(row.update_time) if row.update_time else None,
        row.indexable is not False,
    )
