"""The search service's Cassandra tables (schema/*.cql): the small state the projection keeps beside its index."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from services.runtime.cassandra import CassandraSession
from services.runtime.reader_filters import ReaderFilterRows

# Relations kinds in `relations`.
BLOCKS, BLOCKED_BY, MUTES = "blocks", "blocked_by", "mutes"
# Posts read per page when an author is indexed again.
AUTHOR_PAGE = 500


@dataclass(frozen=True)
class Person:
    user_id: int
    handle: str
    display_name: str
    bio: str
    indexable: bool
    create_time_ms: int
    follower_count: int = 0


@dataclass(frozen=True)
class StoredPost:
    post_id: int
    author_id: int
    text: str
    create_time_ms: int
    in_reply_to_post_id: int


class SearchRepository:
    def __init__(self, session: CassandraSession, keyspace: str, base_keyspace: str) -> None:
        """`keyspace` is one version's (a rebuild writes a new one); `base_keyspace` the service's own."""
        self._db = session
        self._ks = keyspace
        self.keyspace = keyspace
        self.base_keyspace = base_keyspace
        # The readers' filters (services/runtime/reader_filters.py), in this version's keyspace.
        self.filters = ReaderFilterRows(session, keyspace)

    async def save_person(self, person: Person, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name, bio, indexable, create_time) "
            "VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (
                person.user_id,
                person.handle,
                person.display_name,
                person.bio,
                person.indexable,
                datetime.fromtimestamp(person.create_time_ms / 1000, UTC),
                at,
            ),
        )

    async def person(self, user_id: int) -> Person | None:
        rows = await self._db.execute(
            f"SELECT user_id, handle, display_name, bio, indexable, create_time, follower_count FROM {self._ks}.users "
            "WHERE user_id = ?",
            (user_id,),
        )
        if not rows:
            return None
        row = rows[0]
        created = row.create_time.replace(tzinfo=UTC) if row.create_time else datetime.fromtimestamp(0, UTC)
        return Person(
            row.user_id,
            row.handle or "",
            row.display_name or "",
            row.bio or "",
            row.indexable is not False,
            int(created.timestamp() * 1000),
            row.follower_count or 0,
        )

    async def people(self, user_ids: list[int]) -> dict[int, Person]:
        found = await asyncio.gather(*(self.person(user_id) for user_id in user_ids))
        return {person.user_id: person for person in found if person is not None}

    async def set_follow(self, follower_id: int, followee_id: int, active: bool, at: int) -> None:
        if active:
            cql = f"INSERT INTO {self._ks}.followers (followee_id, follower_id) VALUES (?, ?) USING TIMESTAMP ?"
            await self._db.execute(cql, (followee_id, follower_id, at))
        else:
            cql = f"DELETE FROM {self._ks}.followers USING TIMESTAMP ? WHERE followee_id = ? AND follower_id = ?"
            await self._db.execute(cql, (at, followee_id, follower_id))

    async def save_follower_count(self, user_id: int, count: int) -> None:
        """Written without an event's time: it is a count of `followers` as it stands, recounted on each change."""
        await self._db.execute(f"UPDATE {self._ks}.users SET follower_count = ? WHERE user_id = ?", (count, user_id))

    async def follower_count(self, user_id: int) -> int:
        rows = await self._db.execute(
            f"SELECT COUNT(*) AS n FROM {self._ks}.followers WHERE followee_id = ?", (user_id,)
        )
        return rows[0].n if rows else 0

    async def set_relation(self, user_id: int, kind: str, other_id: int, active: bool, at: int) -> None:
        if active:
            cql = f"INSERT INTO {self._ks}.relations (user_id, kind, other_id) VALUES (?, ?, ?) USING TIMESTAMP ?"
            await self._db.execute(cql, (user_id, kind, other_id, at))
        else:
            cql = f"DELETE FROM {self._ks}.relations USING TIMESTAMP ? WHERE user_id = ? AND kind = ? AND other_id = ?"
            await self._db.execute(cql, (at, user_id, kind, other_id))

    async def hidden_from(self, reader_id: int) -> frozenset[int]:
        """Accounts whose posts and profiles the reader does not see in search: blocked either way, or muted."""
        rows = await self._db.execute(f"SELECT other_id FROM {self._ks}.relations WHERE user_id = ?", (reader_id,))
        return frozenset(row.other_id for row in rows)

    async def save_post(self, post: StoredPost, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.posts_by_author (author_id, post_id, text, create_time, in_reply_to_post_id) "
            "VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (
                post.author_id,
                post.post_id,
                post.text,
                datetime.fromtimestamp(post.create_time_ms / 1000, UTC),
                post.in_reply_to_post_id,
                at,
            ),
        )

    async def delete_post(self, author_id: int, post_id: int, at: int) -> None:
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.tombstones (post_id) VALUES (?) USING TIMESTAMP ?", (post_id, at)
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.posts_by_author USING TIMESTAMP ? WHERE author_id = ? AND post_id = ?",
                (at, author_id, post_id),
            ),
        )

    async def deleted(self, post_ids: list[int]) -> set[int]:
        rows = await asyncio.gather(
            *(self._db.execute(f"SELECT post_id FROM {self._ks}.tombstones WHERE post_id = ?", (p,)) for p in post_ids)
        )
        return {found[0].post_id for found in rows if found}

    async def posts_of(self, author_id: int, before: int | None = None) -> list[StoredPost]:
        """A page of the author's live posts, newest first, older than post id `before`."""
        where = "author_id = ?" + (" AND post_id < ?" if before is not None else "")
        params = (author_id, before) if before is not None else (author_id,)
        rows = await self._db.execute(
            f"SELECT post_id, text, create_time, in_reply_to_post_id FROM {self._ks}.posts_by_author WHERE {where} "
            f"LIMIT {AUTHOR_PAGE}",
            params,
        )
        return [
            StoredPost(
                row.post_id,
                author_id,
                row.text or "",
                int(row.create_time.replace(tzinfo=UTC).timestamp() * 1000),
                row.in_reply_to_post_id or 0,
            )
            for row in rows
        ]
