"""The graph service's Cassandra tables."""

import asyncio

from services.graph.domain import Follow, User
from services.runtime.cassandra import CassandraSession
from services.runtime.events import as_utc


class GraphRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def claim_handle(self, key: str, user: User, request_id: str) -> tuple[bool, dict]:
        """Reserve a handle with a lightweight transaction. Returns (claimed, the row that holds it)."""
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.users_by_handle (handle_key, user_id, handle, display_name, create_time, request_id)"
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

    async def get_user(self, user_id: int) -> User | None:
        rows = await self._db.execute(
            f"SELECT user_id, handle, display_name, create_time FROM {self._ks}.users WHERE user_id = ?", (user_id,)
        )
        return _user(rows[0]) if rows else None

    async def get_users(self, user_ids: list[int]) -> list[User]:
        found = await asyncio.gather(*(self.get_user(user_id) for user_id in user_ids))
        return [user for user in found if user is not None]

    async def user_id_by_handle(self, key: str) -> int | None:
        rows = await self._db.execute(f"SELECT user_id FROM {self._ks}.users_by_handle WHERE handle_key = ?", (key,))
        return rows[0].user_id if rows else None

    async def get_follow(self, follower_id: int, followee_id: int) -> Follow | None:
        rows = await self._db.execute(
            f"SELECT followed_at FROM {self._ks}.following WHERE follower_id = ? AND followee_id = ?",
            (follower_id, followee_id),
        )
        return Follow(follower_id, followee_id, rows[0].followed_at) if rows else None

    async def save_follow(self, follow: Follow) -> None:
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.following (follower_id, followee_id, followed_at) VALUES (?, ?, ?)",
                (follow.follower_id, follow.followee_id, follow.followed_at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.followers (followee_id, follower_id, followed_at) VALUES (?, ?, ?)",
                (follow.followee_id, follow.follower_id, follow.followed_at),
            ),
        )

    async def delete_follow(self, follower_id: int, followee_id: int) -> None:
        await asyncio.gather(
            self._db.execute(
                f"DELETE FROM {self._ks}.following WHERE follower_id = ? AND followee_id = ?", (follower_id, followee_id)
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.followers WHERE followee_id = ? AND follower_id = ?", (followee_id, follower_id)
            ),
        )

    async def list_edges(self, direction: str, user_id: int, after: int, limit: int) -> list[int]:
        """Ids on the other end of `user_id`'s edges, ascending, after `after`. `direction` is followers|following."""
        own, other = ("followee_id", "follower_id") if direction == "followers" else ("follower_id", "followee_id")
        rows = await self._db.execute(
            f"SELECT {other} FROM {self._ks}.{direction} WHERE {own} = ? AND {other} > ? LIMIT ?",
            (user_id, after, limit),
        )
        return [getattr(row, other) for row in rows]


def _user(row) -> User:
    return User(row.user_id, row.handle, row.display_name, as_utc(row.create_time))
