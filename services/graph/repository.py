"""The graph service's Cassandra tables."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chirp.graph.v1 import graph_pb2
from services.graph.domain import CountKind, EdgeState, Follow, Restriction, RestrictionKind, Stats, User
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc, ms_of

_RESTRICTION_TABLES = {RestrictionKind.BLOCK: "blocks", RestrictionKind.MUTE: "mutes"}

# The counts and the edges they are kept from (schema/003_counts.cql). Ids are positive, so other_id 0 is free for
# the row that holds a kind's count.
COUNTS_TABLE = "user_counts"
COUNT_ROW = 0
# What GetUser reads: one row per count, by its full primary key, however many edges the user has.
STATS_QUERY = (
    f"SELECT kind, total FROM {{keyspace}}.{COUNTS_TABLE} WHERE user_id = ? AND kind IN ? AND other_id = {COUNT_ROW}"
)
_KINDS = [kind.value for kind in CountKind]


@dataclass(frozen=True)
class Counted:
    """One user's count of one kind as stored, the stored state of some of its edges, and the count row's write
    time (µs; 0 when there is none yet)."""

    total: int
    written: int
    edges: dict[int, EdgeState]


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
        """The counts the count projection keeps (services/graph/counts.py): three rows of one partition, read by
        their keys, whatever the number of edges; a count not kept yet is 0."""
        rows = await self._db.execute(STATS_QUERY.format(keyspace=self._ks), (user_id, _KINDS))
        found = {row.kind: row.total for row in rows}
        return Stats(*(found.get(kind, 0) or 0 for kind in _KINDS))

    async def counted(self, user_id: int, kind: CountKind, other_ids: list[int]) -> Counted:
        """The user's count of `kind` and the stored state of these of its edges: one read of one partition."""
        rows = await self._db.execute(
            f"SELECT other_id, version, present, total, WRITETIME(total) AS written FROM {self._ks}.{COUNTS_TABLE}"
            " WHERE user_id = ? AND kind = ? AND other_id IN ?",
            (user_id, kind.value, [COUNT_ROW, *other_ids]),
        )
        total = written = 0
        edges = {}
        for row in rows:
            if row.other_id == COUNT_ROW:
                total, written = row.total or 0, row.written or 0
            else:
                edges[row.other_id] = EdgeState(row.version, row.present)
        return Counted(total, written, edges)

    async def save_counted(
        self, user_id: int, kind: CountKind, total: int, edges: dict[int, EdgeState], at: int
    ) -> None:
        """The edges' new states and the count they add up to, in one batch of one partition (so atomic and
        isolated: no read sees the count without its edges, and a failure leaves neither), at write time `at`."""
        edge = (
            f"INSERT INTO {self._ks}.{COUNTS_TABLE} (user_id, kind, other_id, version, present) VALUES (?, ?, ?, ?, ?)"
            " USING TIMESTAMP ?"
        )
        count = (
            f"INSERT INTO {self._ks}.{COUNTS_TABLE} (user_id, kind, other_id, total) VALUES (?, ?, {COUNT_ROW}, ?)"
            " USING TIMESTAMP ?"
        )
        await self._db.execute_batch(
            [(count, (user_id, kind.value, total, at))]
            + [(edge, (user_id, kind.value, other, state.version, state.present, at)) for other, state in edges.items()]
        )

    async def get_follow(self, follower_id: int, followee_id: int) -> Follow | None:
        """The follow as it was made, to the microsecond: its rows are written at its time (save_follow), which the
        write time gives back (rows written before that held only the column's milliseconds: those are kept)."""
        rows = await self._db.execute(
            f"SELECT followed_at, WRITETIME(followed_at) AS written FROM {self._ks}.following WHERE follower_id = ?"
            " AND followee_id = ?",
            (follower_id, followee_id),
        )
        if not rows:
            return None
        column = as_utc(rows[0].followed_at)
        written = _from_micros(rows[0].written)
        return Follow(follower_id, followee_id, written if ms_of(written) == ms_of(column) else column)

    async def save_follow(self, follow: Follow) -> None:
        """Both directions in one logged batch, written at the follow's time: a failure or a racing unfollow can
        never leave one direction without the other (a retry would see the edge and not write the missing half),
        and which of a follow and an unfollow of the pair wins is decided by their times, as the count projection
        decides it from their events."""
        await self._db.execute(
            f"BEGIN BATCH USING TIMESTAMP ?"
            f" INSERT INTO {self._ks}.following (follower_id, followee_id, followed_at) VALUES (?, ?, ?);"
            f" INSERT INTO {self._ks}.followers (followee_id, follower_id, followed_at) VALUES (?, ?, ?);"
            " APPLY BATCH",
            (
                _micros(follow.followed_at),
                follow.follower_id,
                follow.followee_id,
                follow.followed_at,
                follow.followee_id,
                follow.follower_id,
                follow.followed_at,
            ),
        )

    async def delete_follow(self, follower_id: int, followee_id: int, at: datetime) -> None:
        """Like save_follow, both directions or neither, at `at` (after the follow: domain.ended_at)."""
        await self._db.execute(
            f"BEGIN BATCH USING TIMESTAMP ?"
            f" DELETE FROM {self._ks}.following WHERE follower_id = ? AND followee_id = ?;"
            f" DELETE FROM {self._ks}.followers WHERE followee_id = ? AND follower_id = ?;"
            " APPLY BATCH",
            (_micros(at), follower_id, followee_id, followee_id, follower_id),
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

    async def blocks_between(self, one: int, other: int) -> set[tuple[int, int]]:
        """The blocks between two users, either way, as (blocker, blocked): one query over both partitions."""
        rows = await self._db.execute(
            f"SELECT user_id, target_id FROM {self._ks}.blocks WHERE user_id IN ? AND target_id IN ?",
            ([one, other], [one, other]),
        )
        return {(row.user_id, row.target_id) for row in rows}

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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    """A write time: microseconds since the epoch, exactly (no float on the way)."""
    return (moment - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


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
