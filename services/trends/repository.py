"""The trends service's Cassandra tables (schema/): the only code that names them.

Every write takes the event's time as its write time (`at`, microseconds), so applying an event again, or replaying
the log, writes the same cells; a deletion written at a later event's time stays over a re-delivered insert.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc, ms_of
from services.runtime.reader_filters import ReaderFilterRows
from services.trends.domain import FULL_WEIGHT_FOLLOWERS, Account, Kind, Use

# Rows read per statement when a partition is read whole, and the most read from one hour of one scope: beyond
# it the last hour is counted from its first PAGE_LIMIT * MAX_PAGES rows (in clustering order: always the same).
PAGE_LIMIT = 5000
MAX_PAGES = 40
# The most blocked or muted accounts of a reader read for their trends, and the most rows of one term's day read
# for its history.
MAX_HIDDEN = 10_000
MAX_DAY_ROWS = 10_000


@dataclass(frozen=True)
class StoredPost:
    post_id: int
    author_id: int
    text: str
    language: str
    create_ms: int
    # (kind, term) pairs the post used.
    terms: tuple[tuple[Kind, str], ...]


@dataclass(frozen=True)
class Reaction:
    at_ms: int
    language: str


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _use(row) -> Use:
    return Use(row.account_id, row.source_id, ms_of(as_utc(row.at)), bytes(row.signature or b""))


class TrendsRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace
        # The readers' filters (services/runtime/reader_filters.py), in this version's keyspace.
        self.filters = ReaderFilterRows(session, keyspace)

    # Accounts and relations, from the graph topic.

    async def save_account(self, user_id: int, handle: str, created_ms: int, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.accounts (user_id, handle, create_time) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user_id, handle, _datetime(created_ms), at),
        )

    async def set_follower(self, user_id: int, follower_id: int, active: bool, at: int) -> None:
        if active:
            await self._db.execute(
                f"INSERT INTO {self._ks}.followers (user_id, follower_id) VALUES (?, ?) USING TIMESTAMP ?",
                (user_id, follower_id, at),
            )
        else:
            await self._db.execute(
                f"DELETE FROM {self._ks}.followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
                (at, user_id, follower_id),
            )

    async def set_hidden(self, user_id: int, other_id: int, relation: str, active: bool, at: int) -> None:
        if active:
            await self._db.execute(
                f"INSERT INTO {self._ks}.hidden (user_id, other_id, relation) VALUES (?, ?, ?) USING TIMESTAMP ?",
                (user_id, other_id, relation, at),
            )
        else:
            await self._db.execute(
                f"DELETE FROM {self._ks}.hidden USING TIMESTAMP ? WHERE user_id = ? AND other_id = ? AND relation = ?",
                (at, user_id, other_id, relation),
            )

    async def accounts(self, user_ids: Iterable[int]) -> dict[int, Account]:
        """What weighs each account: its creation time and its followers, counted up to FULL_WEIGHT_FOLLOWERS."""

        async def one(user_id: int) -> tuple[int, Account]:
            created, followers = await asyncio.gather(
                self._db.execute(f"SELECT create_time FROM {self._ks}.accounts WHERE user_id = ?", (user_id,)),
                self._db.execute(
                    f"SELECT follower_id FROM {self._ks}.followers WHERE user_id = ? LIMIT ?",
                    (user_id, FULL_WEIGHT_FOLLOWERS),
                ),
            )
            created_ms = ms_of(as_utc(created[0].create_time)) if created and created[0].create_time else None
            return user_id, Account(created_ms, len(followers))

        return dict(await asyncio.gather(*(one(user_id) for user_id in set(user_ids))))

    async def handles(self, user_ids: Iterable[int]) -> dict[int, str]:
        rows = await asyncio.gather(
            *(
                self._db.execute(f"SELECT user_id, handle FROM {self._ks}.accounts WHERE user_id = ?", (user_id,))
                for user_id in set(user_ids)
            )
        )
        return {found[0].user_id: found[0].handle or "" for found in rows if found}

    async def hidden_by(self, user_id: int) -> frozenset[int]:
        """The accounts `user_id` blocks or mutes (at most MAX_HIDDEN)."""
        rows = await self._db.execute(
            f"SELECT other_id FROM {self._ks}.hidden WHERE user_id = ? LIMIT ?", (user_id, MAX_HIDDEN)
        )
        return frozenset(row.other_id for row in rows)

    async def account_known(self, user_id: int) -> bool:
        rows = await self._db.execute(f"SELECT user_id FROM {self._ks}.accounts WHERE user_id = ?", (user_id,))
        return bool(rows)

    # Posts, from the post topic.

    async def save_post(self, post: StoredPost, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.posts (post_id, author_id, text, language, create_time, terms)"
            " VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (
                post.post_id,
                post.author_id,
                post.text,
                post.language,
                _datetime(post.create_ms),
                [f"{kind.value}:{term}" for kind, term in post.terms],
                at,
            ),
        )

    async def posts(self, post_ids: Iterable[int]) -> dict[int, StoredPost]:
        rows = await asyncio.gather(
            *(
                self._db.execute(
                    f"SELECT post_id, author_id, text, language, create_time, terms FROM {self._ks}.posts"
                    " WHERE post_id = ?",
                    (post_id,),
                )
                for post_id in set(post_ids)
            )
        )
        found = {}
        for result in rows:
            if result:
                row = result[0]
                terms = tuple(
                    (Kind(kind), term) for kind, _, term in (entry.partition(":") for entry in row.terms or ())
                )
                found[row.post_id] = StoredPost(
                    row.post_id,
                    row.author_id,
                    row.text or "",
                    row.language or "",
                    ms_of(as_utc(row.create_time)),
                    terms,
                )
        return found

    async def delete_post(self, post_id: int, at: int) -> None:
        await self._db.execute(f"DELETE FROM {self._ks}.posts USING TIMESTAMP ? WHERE post_id = ?", (at, post_id))

    async def save_reaction(self, post_id: int, user_id: int, source_id: int, reaction: Reaction, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.reactions (post_id, user_id, source_id, at, language) VALUES (?, ?, ?, ?, ?)"
            " USING TIMESTAMP ?",
            (post_id, user_id, source_id, _datetime(reaction.at_ms), reaction.language, at),
        )

    async def reaction(self, post_id: int, user_id: int, source_id: int) -> Reaction | None:
        rows = await self._db.execute(
            f"SELECT at, language FROM {self._ks}.reactions WHERE post_id = ? AND user_id = ? AND source_id = ?",
            (post_id, user_id, source_id),
        )
        return Reaction(ms_of(as_utc(rows[0].at)), rows[0].language or "") if rows else None

    async def delete_reaction(self, post_id: int, user_id: int, source_id: int, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.reactions USING TIMESTAMP ? WHERE post_id = ? AND user_id = ? AND source_id = ?",
            (at, post_id, user_id, source_id),
        )

    # Uses.

    async def add_use(self, scope: str, kind: Kind, term: str, use: Use, hour: int, day: int, at: int) -> None:
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.uses (scope, hour, kind, term, account_id, source_id, at, signature)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                (scope, hour, kind.value, term, use.account_id, use.source_id, _datetime(use.at_ms), use.signature, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.term_days (scope, kind, term, day, account_id, source_id)"
                " VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                (scope, kind.value, term, day, use.account_id, use.source_id, at),
            ),
        )

    async def remove_use(
        self, scope: str, kind: Kind, term: str, account_id: int, source_id: int, hour: int, day: int, at: int
    ) -> None:
        await asyncio.gather(
            self._db.execute(
                f"DELETE FROM {self._ks}.uses USING TIMESTAMP ? WHERE scope = ? AND hour = ? AND kind = ? AND term = ?"
                " AND account_id = ? AND source_id = ?",
                (at, scope, hour, kind.value, term, account_id, source_id),
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.term_days USING TIMESTAMP ? WHERE scope = ? AND kind = ? AND term = ?"
                " AND day = ? AND account_id = ? AND source_id = ?",
                (at, scope, kind.value, term, day, account_id, source_id),
            ),
        )

    async def hour_uses(self, scope: str, hour: int, kind: Kind) -> dict[str, list[Use]]:
        """Every use of `kind` in one hour of a scope, by term: the partition read a page at a time."""
        found: dict[str, list[Use]] = {}
        columns = "term, account_id, source_id, at, signature"
        rows = await self._db.execute(
            f"SELECT {columns} FROM {self._ks}.uses WHERE scope = ? AND hour = ? AND kind = ? LIMIT ?",
            (scope, hour, kind.value, PAGE_LIMIT),
        )
        pages = 1
        while True:
            for row in rows:
                found.setdefault(row.term, []).append(_use(row))
            if len(rows) < PAGE_LIMIT or pages >= MAX_PAGES:
                return found
            last = rows[-1]
            rows = await self._db.execute(
                f"SELECT {columns} FROM {self._ks}.uses WHERE scope = ? AND hour = ? AND kind = ?"
                " AND (term, account_id, source_id) > (?, ?, ?) LIMIT ?",
                (scope, hour, kind.value, last.term, last.account_id, last.source_id, PAGE_LIMIT),
            )
            pages += 1

    async def term_uses(self, scope: str, hour: int, kind: Kind, term: str) -> list[Use]:
        """The uses of one term in one hour of a scope (one slice of one partition, at most PAGE_LIMIT rows)."""
        rows = await self._db.execute(
            f"SELECT account_id, source_id, at, signature FROM {self._ks}.uses WHERE scope = ? AND hour = ?"
            " AND kind = ? AND term = ? LIMIT ?",
            (scope, hour, kind.value, term, PAGE_LIMIT),
        )
        return [_use(row) for row in rows]

    async def day_uses(self, scope: str, kind: Kind, term: str, day: int) -> tuple[int, int]:
        """(distinct accounts, uses) of a term on one day."""
        rows = await self._db.execute(
            f"SELECT account_id FROM {self._ks}.term_days WHERE scope = ? AND kind = ? AND term = ? AND day = ?"
            " LIMIT ?",
            (scope, kind.value, term, day, MAX_DAY_ROWS),
        )
        return len({row.account_id for row in rows}), len(rows)
