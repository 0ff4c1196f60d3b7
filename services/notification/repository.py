"""The notification service's Cassandra tables."""

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from services.notification.domain import (
    MAX_COUNTED_ACTORS,
    Act,
    Hidden,
    PreferenceChange,
    Preferences,
    Retraction,
    Standing,
    preferences_at,
)
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc, ms_of
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
class GroupAct:
    """One act of a group, with what the group is about."""

    create_time: datetime
    actor_id: int
    kind: int
    post_id: int
    post_text: str


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


def _preference_change(row) -> PreferenceChange:
    return PreferenceChange(
        as_utc(row.since),
        Preferences(frozenset(row.disabled_kinds or ()), bool(row.only_following)),
        Preferences(frozenset(row.previous_disabled_kinds or ()), bool(row.previous_only_following)),
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

    async def followed_since(self, follower_id: int, followee_id: int, before: datetime) -> datetime | None:
        """When the follow that an unfollow at `before` ends began (None if no follow is known)."""
        rows = await self._db.execute(
            f"SELECT since, active FROM {self._ks}.relations WHERE user_id = ? AND other_id = ? AND relation = ? AND"
            " since <= ? LIMIT 2",
            (follower_id, followee_id, "follows", before),
        )
        return next((as_utc(r.since) for r in rows if r.active), None)

    async def standing_at(self, recipient_id: int, actor_id: int, moment: datetime) -> Standing:
        blocking, blocked_by, muting, following = await asyncio.gather(
            self._related_at(recipient_id, actor_id, "blocks", moment),
            self._related_at(actor_id, recipient_id, "blocks", moment),
            self._related_at(recipient_id, actor_id, "mutes", moment),
            self._related_at(recipient_id, actor_id, "follows", moment),
        )
        return Standing(blocked=blocking or blocked_by, muted=muting, followed=following)

    # Notifications: one feed row per group, at its newest act (see schema/004_one_row_per_group.cql).

    async def add(self, act: Act, caused_by_post: bool, at: int) -> None:
        """The act's own rows first, then its group's newest acts are read: of two acts of one group written at
        once, the one read second sees both, so the newest is always found by the act that is it. When this act
        is the newest, the group's row moves here and the previous one goes, both at the act's write time: a
        replay or a late older act changes nothing, a later act's delete wins over this insert."""
        created = as_utc(act.create_time)
        key = act.group_key
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.group_members (recipient_id, group_key, actor_id, create_time) VALUES"
                " (?, ?, ?, ?) USING TIMESTAMP ?",
                (act.recipient_id, key, act.actor_id, created, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.group_acts (recipient_id, group_key, create_time, actor_id, kind, post_id,"
                " post_text) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                (act.recipient_id, key, created, act.actor_id, act.kind, act.post_id, act.post_text, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.acts (recipient_id, create_time, group_key, actor_id) VALUES (?, ?, ?, ?)"
                " USING TIMESTAMP ?",
                (act.recipient_id, created, key, act.actor_id, at),
            ),
            *(
                [
                    self._db.execute(
                        f"INSERT INTO {self._ks}.caused_by_post (post_id, recipient_id, group_key) VALUES (?, ?, ?)"
                        " USING TIMESTAMP ?",
                        (act.post_id, act.recipient_id, key, at),
                    )
                ]
                if caused_by_post
                else []
            ),
        )
        top = await self.newest_acts(act.recipient_id, key, 2)
        if not top or top[0].create_time != created:
            return  # a newer act stands for the group
        newest = top[0]
        await self._write_feed(act.recipient_id, key, newest, at)
        if len(top) > 1 and top[1].create_time != created:
            await self._delete_feed(act.recipient_id, top[1].create_time, key, at)

    async def retract(self, retraction: Retraction, at: int) -> None:
        """The actor leaves the group at the retraction's time. If their act was the group's newest, the group's
        row goes back to the new newest act (a bounded read: the first row of the group), written just after the
        taken-back act, so it wins over the delete that act made and loses to a delete by any later act."""
        recipient_id, key, actor_id = retraction.recipient_id, retraction.group_key, retraction.actor_id
        rows = await self._db.execute(
            f"SELECT create_time FROM {self._ks}.group_members WHERE recipient_id = ? AND group_key = ? AND actor_id"
            " = ?",
            (recipient_id, key, actor_id),
        )
        await self._db.execute(
            f"DELETE FROM {self._ks}.group_members USING TIMESTAMP ? WHERE recipient_id = ? AND group_key = ? AND"
            " actor_id = ?",
            (at, recipient_id, key, actor_id),
        )
        if not rows:
            return  # never notified, or already taken back
        acted = as_utc(rows[0].create_time)
        await asyncio.gather(
            self._db.execute(
                f"DELETE FROM {self._ks}.group_acts USING TIMESTAMP ? WHERE recipient_id = ? AND group_key = ? AND"
                " create_time = ? AND actor_id = ?",
                (at, recipient_id, key, acted, actor_id),
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.acts USING TIMESTAMP ? WHERE recipient_id = ? AND create_time = ? AND"
                " group_key = ? AND actor_id = ?",
                (at, recipient_id, acted, key, actor_id),
            ),
        )
        top = await self.newest_acts(recipient_id, key, 1)
        if top and top[0].create_time > acted:
            return  # a newer act stands for the group: its row is untouched
        if not top or top[0].create_time != acted:
            await self._delete_feed(recipient_id, acted, key, at)
        if top:
            await self._write_feed(recipient_id, key, top[0], (ms_of(acted) + 1) * 1000)

    async def retract_group(self, recipient_id: int, key: str, at: int) -> None:
        """The whole group goes (its post was deleted). Its `acts` rows stay: nothing lists them, and a block
        looking at them again finds their actor no longer in the group."""
        top = await self.newest_acts(recipient_id, key, 1)
        await asyncio.gather(
            self._db.execute(
                f"DELETE FROM {self._ks}.group_acts USING TIMESTAMP ? WHERE recipient_id = ? AND group_key = ?",
                (at, recipient_id, key),
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.group_members USING TIMESTAMP ? WHERE recipient_id = ? AND group_key = ?",
                (at, recipient_id, key),
            ),
            *([self._delete_feed(recipient_id, top[0].create_time, key, at)] if top else []),
        )

    async def _write_feed(self, recipient_id: int, key: str, newest: "GroupAct", at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.group_feed ({_FEED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (
                recipient_id,
                newest.create_time,
                key,
                newest.kind,
                newest.actor_id,
                newest.post_id,
                newest.post_text,
                at,
            ),
        )

    async def _delete_feed(self, recipient_id: int, create_time: datetime, key: str, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.group_feed USING TIMESTAMP ? WHERE recipient_id = ? AND create_time = ? AND"
            " group_key = ?",
            (at, recipient_id, create_time, key),
        )

    async def caused_by(self, post_id: int) -> list[tuple[int, str]]:
        rows = await self._db.execute(
            f"SELECT recipient_id, group_key FROM {self._ks}.caused_by_post WHERE post_id = ?", (post_id,)
        )
        return [(r.recipient_id, r.group_key) for r in rows]

    async def newest_acts(self, recipient_id: int, key: str, limit: int) -> list["GroupAct"]:
        """The group's `limit` newest acts, newest first (the highest actor id first among acts of one
        millisecond), with what the group is about. One slice of `limit` rows, however big the group."""
        rows = await self._db.execute(
            f"SELECT create_time, actor_id, kind, post_id, post_text FROM {self._ks}.group_acts WHERE recipient_id = ?"
            " AND group_key = ? LIMIT ?",
            (recipient_id, key, limit),
        )
        # A group whose acts were all taken back keeps its static cells: a row without a time, no act.
        return [
            GroupAct(as_utc(r.create_time), r.actor_id, r.kind, r.post_id or 0, r.post_text or "")
            for r in rows
            if r.create_time is not None
        ]

    async def group(self, recipient_id: int, key: str) -> Group:
        """The group's newest act and its size, counted up to MAX_COUNTED_ACTORS."""
        top = await self._db.execute(
            f"SELECT create_time FROM {self._ks}.group_acts WHERE recipient_id = ? AND group_key = ? LIMIT ?",
            (recipient_id, key, MAX_COUNTED_ACTORS),
        )
        top = [r for r in top if r.create_time is not None]  # see newest_acts
        return Group(len(top), as_utc(top[0].create_time) if top else None)

    async def actors(
        self, recipient_id: int, key: str, after: tuple[datetime, int] | None, limit: int
    ) -> list[tuple[int, datetime]]:
        """(actor, when), newest first (the highest actor id first among acts of one millisecond), after the
        position (time, actor) `after` when given: one slice of the group's partition."""
        if after is None:
            rows = await self._db.execute(
                f"SELECT actor_id, create_time FROM {self._ks}.group_acts WHERE recipient_id = ? AND group_key = ?"
                " LIMIT ?",
                (recipient_id, key, limit),
            )
        else:
            rows = await self._db.execute(
                f"SELECT actor_id, create_time FROM {self._ks}.group_acts WHERE recipient_id = ? AND group_key = ?"
                " AND (create_time, actor_id) < (?, ?) LIMIT ?",
                (recipient_id, key, *after, limit),
            )
        return [(r.actor_id, as_utc(r.create_time)) for r in rows if r.create_time is not None]

    async def acts_since(self, recipient_id: int, since: datetime, limit: int) -> list[tuple[datetime, str, int]]:
        """The `limit` oldest acts the recipient was notified of at or after `since`: (when, group, actor)."""
        rows = await self._db.execute(
            f"SELECT create_time, group_key, actor_id FROM {self._ks}.acts WHERE recipient_id = ? AND create_time >= ?"
            " ORDER BY create_time ASC LIMIT ?",
            (recipient_id, since, limit),
        )
        return [(as_utc(r.create_time), r.group_key, r.actor_id) for r in rows]

    async def feed_before(self, recipient_id: int, before: tuple[datetime, str] | None, limit: int) -> list[FeedRow]:
        """Feed rows older than `before` (all when None), newest first."""
        if before is None:
            rows = await self._db.execute(
                f"SELECT {_FEED_COLUMNS} FROM {self._ks}.group_feed WHERE recipient_id = ? LIMIT ?",
                (recipient_id, limit),
            )
        else:
            rows = await self._db.execute(
                f"SELECT {_FEED_COLUMNS} FROM {self._ks}.group_feed WHERE recipient_id = ? AND (create_time, group_key)"
                " < (?, ?) LIMIT ?",
                (recipient_id, *before, limit),
            )
        return [_feed_row(r) for r in rows]

    async def feed_after(self, recipient_id: int, after: tuple[datetime, str], limit: int) -> list[FeedRow]:
        """The `limit` oldest feed rows newer than `after`, oldest first."""
        rows = await self._db.execute(
            f"SELECT {_FEED_COLUMNS} FROM {self._ks}.group_feed WHERE recipient_id = ? AND (create_time, group_key) >"
            " (?, ?) ORDER BY create_time ASC, group_key ASC LIMIT ?",
            (recipient_id, *after, limit),
        )
        return [_feed_row(r) for r in rows]

    # What users set.

    async def preferences(self, user_id: int) -> Preferences:
        """What the user has set now (the defaults when nothing)."""
        current, _ = await self._current_preferences(user_id)
        return current or Preferences()

    async def _current_preferences(self, user_id: int) -> tuple[Preferences | None, datetime | None]:
        rows = await self._db.execute(
            f"SELECT disabled_kinds, only_following, updated_at FROM {self._own}.preferences WHERE user_id = ?",
            (user_id,),
        )
        if not rows:
            return None, None
        row = rows[0]
        updated = as_utc(row.updated_at) if row.updated_at else None
        return Preferences(frozenset(row.disabled_kinds or ()), bool(row.only_following)), updated

    async def save_preferences(self, user_id: int, preferences: Preferences, updated_at: datetime) -> None:
        await self._db.execute(
            f"INSERT INTO {self._own}.preferences (user_id, disabled_kinds, only_following, updated_at) VALUES"
            " (?, ?, ?, ?)",
            (user_id, set(preferences.disabled_kinds), preferences.only_following, updated_at),
        )

    async def record_preferences(self, user_id: int, change: PreferenceChange, at: int) -> None:
        """One PreferencesUpdated, kept in the projected history (rebuilt from the topic like everything else)."""
        await self._db.execute(
            f"INSERT INTO {self._ks}.preference_history (user_id, since, disabled_kinds, only_following,"
            " previous_disabled_kinds, previous_only_following) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (
                user_id,
                change.since,
                set(change.preferences.disabled_kinds),
                change.preferences.only_following,
                set(change.previous.disabled_kinds),
                change.previous.only_following,
                at,
            ),
        )

    async def preferences_at(self, user_id: int, moment: datetime) -> Preferences:
        """The preferences that held at `moment` (domain.preferences_at): one read for a user who never set any or
        set them before the moment, three bounded ones otherwise."""
        moment = as_utc(moment)
        current, since = await self._current_preferences(user_id)
        if current is None or (since is not None and since <= moment):
            return preferences_at(moment, current, since, None, None)
        columns = "since, disabled_kinds, only_following, previous_disabled_kinds, previous_only_following"
        latest, first = await asyncio.gather(
            self._db.execute(
                f"SELECT {columns} FROM {self._ks}.preference_history WHERE user_id = ? AND since <= ? LIMIT 1",
                (user_id, moment),
            ),
            self._db.execute(
                f"SELECT {columns} FROM {self._ks}.preference_history WHERE user_id = ? ORDER BY since ASC LIMIT 1",
                (user_id,),
            ),
        )
        return preferences_at(
            moment,
            current,
            since,
            _preference_change(latest[0]) if latest else None,
            _preference_change(first[0]) if first else None,
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

    async def dismiss(self, user_id: int, group_key: str, up_to: datetime) -> None:
        """Written at the act's own time, so a dismissal never moves back."""
        await self._db.execute(
            f"INSERT INTO {self._own}.dismissals (user_id, group_key, up_to) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user_id, group_key, up_to, int(up_to.timestamp() * 1_000_000)),
        )

    async def clear(self, user_id: int, up_to: datetime) -> None:
        await self._db.execute(
            f"INSERT INTO {self._own}.cleared (user_id, up_to) VALUES (?, ?) USING TIMESTAMP ?",
            (user_id, up_to, int(up_to.timestamp() * 1_000_000)),
        )

    async def hidden(self, user_id: int, group_keys: Collection[str]) -> Hidden:
        """What the user dismissed of these groups, and cleared: rows of the groups asked for only, so a listing
        reads as much whatever the number of groups the user ever dismissed."""
        dismissed, cleared = await asyncio.gather(
            self._db.execute(
                f"SELECT group_key, up_to FROM {self._own}.dismissals WHERE user_id = ? AND group_key IN ?",
                (user_id, sorted(set(group_keys))),
            ),
            self._db.execute(f"SELECT up_to FROM {self._own}.cleared WHERE user_id = ?", (user_id,)),
        )
        return Hidden(
            {row.group_key: as_utc(row.up_to) for row in dismissed}, as_utc(cleared[0].up_to) if cleared else None
        )
