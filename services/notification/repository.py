"""The notification service's Cassandra tables."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from services.notification.domain import Act, Preferences, Retraction, Standing
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc
from services.runtime.idempotency import IdempotentRequests


@dataclass(frozen=True)
class FeedRow:
    """One act in a recipient's feed."""

    recipient_id: int
    create_time: datetime
    group_key: str
    kind: int
    actor_id: int
    post_id: int
    post_text: str


@dataclass(frozen=True)
class Group:
    size: int
    newest_act_time: datetime | None


@dataclass(frozen=True)
class WaitingQuote:
    quote_post_id: int
    quoter_id: int
    text: str
    create_time: datetime


_FEED_COLUMNS = "recipient_id, create_time, group_key, kind, actor_id, post_id, post_text"


def _feed_row(r) -> FeedRow:
    return FeedRow(
        r.recipient_id, as_utc(r.create_time), r.group_key, r.kind, r.actor_id, r.post_id or 0, r.post_text or ""
    )


class NotificationRepository:
    def __init__(self, session: CassandraSession, keyspace: str, users_keyspace: str) -> None:
        """`keyspace` holds what is projected from the log (a version a rebuild can replace); `users_keyspace`,
        the service's base keyspace, what users set (preferences, read positions, request ids), which no replay
        could bring back."""
        self._db = session
        self._ks = keyspace
        self._own = users_keyspace
        self.requests = IdempotentRequests(session, users_keyspace)

    async def save_user(self, user_id: int, handle: str, display_name: str, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user_id, handle, display_name, at),
        )

    async def handles(self, user_ids: set[int]) -> dict[int, str]:
        rows = await asyncio.gather(
            *(
                self._db.execute(f"SELECT user_id, handle FROM {self._ks}.users WHERE user_id = ?", (u,))
                for u in user_ids
            )
        )
        return {r[0].user_id: r[0].handle for r in rows if r}

    # What the projection keeps to decide with.

    async def save_post(self, post_id: int, author_id: int, text: str, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.posts (post_id, author_id, text) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (post_id, author_id, text, at),
        )

    async def post(self, post_id: int) -> tuple[int, str] | None:
        """(author, text) of a post seen, None for one not projected yet."""
        rows = await self._db.execute(f"SELECT author_id, text FROM {self._ks}.posts WHERE post_id = ?", (post_id,))
        return (rows[0].author_id, rows[0].text or "") if rows else None

    async def wait_for_quoted(self, quoted_post_id: int, quote: WaitingQuote, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.quotes_waiting (quoted_post_id, quote_post_id, quoter_id, text, create_time)"
            " VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (quoted_post_id, quote.quote_post_id, quote.quoter_id, quote.text, quote.create_time, at),
        )

    async def quotes_of(self, quoted_post_id: int) -> list[WaitingQuote]:
        rows = await self._db.execute(
            f"SELECT quote_post_id, quoter_id, text, create_time FROM {self._ks}.quotes_waiting WHERE quoted_post_id "
            "= ?",
            (quoted_post_id,),
        )
        return [WaitingQuote(r.quote_post_id, r.quoter_id, r.text, as_utc(r.create_time)) for r in rows]

    async def set_relation(
        self, user_id: int, other_id: int, relation: str, active: bool, since: datetime, at: int
    ) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.relations (user_id, other_id, relation, since, active) VALUES (?, ?, ?, ?, ?)"
            " USING TIMESTAMP ?",
            (user_id, other_id, relation, since, active, at),
        )

    async def _related_at(self, user_id: int, other_id: int, relation: str, moment: datetime) -> bool:
        rows = await self._db.execute(
            f"SELECT active FROM {self._ks}.relations WHERE user_id = ? AND other_id = ? AND relation = ? AND since "
            "<= ?"
            " LIMIT 1",
            (user_id, other_id, relation, moment),
        )
        return bool(rows and rows[0].active)

    async def standing_at(self, recipient_id: int, actor_id: int, moment: datetime) -> Standing:
        blocking, blocked_by, muting, following = await asyncio.gather(
            self._related_at(recipient_id, actor_id, "blocks", moment),
            self._related_at(actor_id, recipient_id, "blocks", moment),
            self._related_at(recipient_id, actor_id, "mutes", moment),
            self._related_at(recipient_id, actor_id, "follows", moment),
        )
        return Standing(blocked=blocking or blocked_by, muted=muting, followed=following)

    # Notifications.

    async def add(self, act: Act, caused_by_post: bool, at: int) -> None:
        """The actor row first, then the feed row: a reader that sees the act in the feed also sees its actor."""
        await self._db.execute(
            f"INSERT INTO {self._ks}.actors (recipient_id, group_key, actor_id, create_time) VALUES (?, ?, ?, ?)"
            " USING TIMESTAMP ?",
            (act.recipient_id, act.group_key, act.actor_id, act.create_time, at),
        )
        if caused_by_post:
            await self._db.execute(
                f"INSERT INTO {self._ks}.caused_by_post (post_id, recipient_id, group_key) VALUES (?, ?, ?) USING "
                "TIMESTAMP ?",
                (act.post_id, act.recipient_id, act.group_key, at),
            )
        await self._db.execute(
            f"INSERT INTO {self._ks}.feed ({_FEED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (act.recipient_id, act.create_time, act.group_key, act.kind, act.actor_id, act.post_id, act.post_text, at),
        )

    async def retract(self, retraction: Retraction, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.actors USING TIMESTAMP ? WHERE recipient_id = ? AND group_key = ? AND actor_id "
            "= ?",
            (at, retraction.recipient_id, retraction.group_key, retraction.actor_id),
        )

    async def retract_group(self, recipient_id: int, key: str, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.actors USING TIMESTAMP ? WHERE recipient_id = ? AND group_key = ?",
            (at, recipient_id, key),
        )

    async def caused_by(self, post_id: int) -> list[tuple[int, str]]:
        rows = await self._db.execute(
            f"SELECT recipient_id, group_key FROM {self._ks}.caused_by_post WHERE post_id = ?", (post_id,)
        )
        return [(r.recipient_id, r.group_key) for r in rows]

    async def group(self, recipient_id: int, key: str) -> Group:
        [row] = await self._db.execute(
            f"SELECT count(*) AS size, max(create_time) AS newest FROM {self._ks}.actors WHERE recipient_id = ? AND "
            "group_key = ?",
            (recipient_id, key),
        )
        return Group(row.size, as_utc(row.newest) if row.newest else None)

    async def actors(self, recipient_id: int, key: str) -> list[tuple[int, datetime]]:
        """(actor, when), newest first (the highest actor id first among acts of one millisecond)."""
        rows = await self._db.execute(
            f"SELECT actor_id, create_time FROM {self._ks}.actors WHERE recipient_id = ? AND group_key = ?",
            (recipient_id, key),
        )
        return sorted(((r.actor_id, as_utc(r.create_time)) for r in rows), key=lambda a: (a[1], a[0]), reverse=True)

    async def feed_before(self, recipient_id: int, before: tuple[datetime, str] | None, limit: int) -> list[FeedRow]:
        """Feed rows older than `before` (all when None), newest first."""
        if before is None:
            rows = await self._db.execute(
                f"SELECT {_FEED_COLUMNS} FROM {self._ks}.feed WHERE recipient_id = ? LIMIT ?", (recipient_id, limit)
            )
        else:
            rows = await self._db.execute(
                f"SELECT {_FEED_COLUMNS} FROM {self._ks}.feed WHERE recipient_id = ? AND (create_time, group_key) < "
                "(?, ?)"
                " LIMIT ?",
                (recipient_id, *before, limit),
            )
        return [_feed_row(r) for r in rows]

    async def feed_after(self, recipient_id: int, after: tuple[datetime, str], limit: int) -> list[FeedRow]:
        """The `limit` oldest feed rows newer than `after`, oldest first."""
        rows = await self._db.execute(
            f"SELECT {_FEED_COLUMNS} FROM {self._ks}.feed WHERE recipient_id = ? AND (create_time, group_key) > (?, ?)"
            " ORDER BY create_time ASC, group_key ASC LIMIT ?",
            (recipient_id, *after, limit),
        )
        return [_feed_row(r) for r in rows]

    # What users set.

    async def preferences(self, user_id: int) -> Preferences:
        rows = await self._db.execute(
            f"SELECT disabled_kinds, only_following FROM {self._own}.preferences WHERE user_id = ?", (user_id,)
        )
        if not rows:
            return Preferences()
        return Preferences(frozenset(rows[0].disabled_kinds or ()), bool(rows[0].only_following))

    async def save_preferences(self, user_id: int, preferences: Preferences) -> None:
        await self._db.execute(
            f"INSERT INTO {self._own}.preferences (user_id, disabled_kinds, only_following) VALUES (?, ?, ?)",
            (user_id, set(preferences.disabled_kinds), preferences.only_following),
        )

    async def read_position(self, user_id: int) -> tuple[datetime, str] | None:
        rows = await self._db.execute(
            f"SELECT read_time, read_group FROM {self._own}.read_positions WHERE user_id = ?", (user_id,)
        )
        return (as_utc(rows[0].read_time), rows[0].read_group) if rows else None

    async def save_read_position(self, user_id: int, position: tuple[datetime, str]) -> None:
        """Written at the position's own time, so an older position never overwrites a newer one."""
        moment, key = position
        await self._db.execute(
            f"INSERT INTO {self._own}.read_positions (user_id, read_time, read_group) VALUES (?, ?, ?) USING "
            "TIMESTAMP ?",
            (user_id, moment, key, int(moment.timestamp() * 1_000_000)),
        )
