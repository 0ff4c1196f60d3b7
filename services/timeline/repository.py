"""The timeline service's Cassandra tables. Writes take an explicit write time (microseconds) from the event."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from services.runtime.cassandra import CassandraSession
from services.runtime.events import as_utc

# Concurrent statements one fan-out keeps in flight: enough to hide latency, few enough not to flood one node.
MAX_IN_FLIGHT = 128
FOLLOWER_PAGE = 5000


@dataclass(frozen=True)
class StoredPost:
    post_id: int
    author_id: int
    text: str
    create_time: datetime


@dataclass(frozen=True)
class StoredUser:
    user_id: int
    handle: str
    display_name: str


class TimelineRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def _run(self, cql: str, params: tuple) -> list:
        async with self._in_flight:
            return await self._db.execute(cql, params)

    # -- writes (projection) -------------------------------------------------------------------------------
    async def save_user(self, user: StoredUser, at: int) -> None:
        await self._run(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user.user_id, user.handle, user.display_name, at),
        )

    async def save_post(self, post: StoredPost, at: int) -> None:
        await asyncio.gather(
            self._run(
                f"INSERT INTO {self._ks}.posts (post_id, author_id, text, create_time) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
                (post.post_id, post.author_id, post.text, post.create_time, at),
            ),
            self._run(
                f"INSERT INTO {self._ks}.user_timeline (author_id, post_id) VALUES (?, ?) USING TIMESTAMP ?",
                (post.author_id, post.post_id, at),
            ),
        )

    async def forget_post(self, post_id: int, at: int) -> None:
        await self._run(f"DELETE FROM {self._ks}.posts USING TIMESTAMP ? WHERE post_id = ?", (at, post_id))

    async def add_follower(self, user_id: int, follower_id: int, at: int) -> None:
        await self._run(
            f"INSERT INTO {self._ks}.followers (user_id, follower_id) VALUES (?, ?) USING TIMESTAMP ?",
            (user_id, follower_id, at),
        )

    async def remove_follower(self, user_id: int, follower_id: int, at: int) -> None:
        await self._run(
            f"DELETE FROM {self._ks}.followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
            (at, user_id, follower_id),
        )

    async def add_to_homes(self, readers: list[int], post_id: int, author_id: int, at: int) -> None:
        await asyncio.gather(
            *(
                self._run(
                    f"INSERT INTO {self._ks}.home_timeline (user_id, post_id, author_id) VALUES (?, ?, ?) USING TIMESTAMP ?",
                    (reader, post_id, author_id, at),
                )
                for reader in readers
            )
        )

    async def add_posts_to_home(self, reader: int, post_ids: list[int], author_id: int, at: int) -> None:
        await asyncio.gather(*(self.add_to_homes([reader], post_id, author_id, at) for post_id in post_ids))

    async def remove_posts_from_home(self, reader: int, post_ids: list[int], at: int) -> None:
        await asyncio.gather(
            *(
                self._run(
                    f"DELETE FROM {self._ks}.home_timeline USING TIMESTAMP ? WHERE user_id = ? AND post_id = ?",
                    (at, reader, post_id),
                )
                for post_id in post_ids
            )
        )

    # -- reads ---------------------------------------------------------------------------------------------
    async def follower_ids(self, user_id: int) -> list[int]:
        """Every follower, read in pages by clustering key."""
        found: list[int] = []
        after = -(2**63)
        while True:
            rows = await self._run(
                f"SELECT follower_id FROM {self._ks}.followers WHERE user_id = ? AND follower_id > ? LIMIT ?",
                (user_id, after, FOLLOWER_PAGE),
            )
            found.extend(row.follower_id for row in rows)
            if len(rows) < FOLLOWER_PAGE:
                return found
            after = rows[-1].follower_id

    async def recent_post_ids(self, author_id: int, limit: int) -> list[int]:
        rows = await self._run(
            f"SELECT post_id FROM {self._ks}.user_timeline WHERE author_id = ? LIMIT ?", (author_id, limit)
        )
        return [row.post_id for row in rows]

    async def timeline_page(self, table: str, owner: int, before: int, limit: int) -> list[int]:
        """Post ids of a home (`home_timeline`) or user (`user_timeline`) timeline, newest first, below `before`."""
        owner_column = "user_id" if table == "home_timeline" else "author_id"
        rows = await self._run(
            f"SELECT post_id FROM {self._ks}.{table} WHERE {owner_column} = ? AND post_id < ? LIMIT ?",
            (owner, before, limit),
        )
        return [row.post_id for row in rows]

    async def get_posts(self, post_ids: list[int]) -> dict[int, StoredPost]:
        rows = await asyncio.gather(
            *(
                self._run(f"SELECT post_id, author_id, text, create_time FROM {self._ks}.posts WHERE post_id = ?", (pid,))
                for pid in post_ids
            )
        )
        return {
            r[0].post_id: StoredPost(r[0].post_id, r[0].author_id, r[0].text, as_utc(r[0].create_time)) for r in rows if r
        }

    async def get_users(self, user_ids: set[int]) -> dict[int, StoredUser]:
        rows = await asyncio.gather(
            *(
                self._run(f"SELECT user_id, handle, display_name FROM {self._ks}.users WHERE user_id = ?", (uid,))
                for uid in user_ids
            )
        )
        return {r[0].user_id: StoredUser(r[0].user_id, r[0].handle, r[0].display_name) for r in rows if r}
