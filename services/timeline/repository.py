"""The timeline service's Cassandra tables. Writes take an explicit write time (microseconds) from the event."""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from cassandra.query import UNSET_VALUE

from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc
from services.timeline.domain import HomeEntry, Provenance, post_entry

FOLLOWER_PAGE = 5000
# Partitions one IN query names at most (a page holds at most 100 posts).
IN_LIMIT = 100
# Posts per page of a full recount (recount_all).
RECOUNT_PAGE = 1000
# Above every position: "from the newest".
NEWEST = 2**63 - 1


@dataclass(frozen=True)
class StoredPost:
    post_id: int
    author_id: int
    text: str
    create_time: datetime
    # The author of the post this one answers; 0 when it is not a reply.
    in_reply_to_user_id: int = 0
    in_reply_to_post_id: int = 0
    quoted_post_id: int = 0
    # A serialized chirp.post.v1.Post holding only the text's entities.
    entities: bytes = b""


@dataclass(frozen=True)
class StoredUser:
    user_id: int
    handle: str
    display_name: str


class TimelineRepository:
    """The projected tables of one version (`keyspace`): everything a rebuild replays from the log and replaces.
    What every version shares is elsewhere, in `reader_state.py`."""

    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace
        self._home_entry = _HOME_ENTRY.format(ks=keyspace)
        self._home_repost = _HOME_REPOST.format(ks=keyspace)

    # -- writes (projection) -------------------------------------------------------------------------------
    async def save_user(self, user: StoredUser, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user.user_id, user.handle, user.display_name, at),
        )

    async def save_post(self, post: StoredPost, at: int) -> None:
        """The post, its place in its author's timeline, the author's newest activity and its counts at zero: one
        request (an unlogged batch; each row is written whole and the event is applied again if any fails)."""
        await self._db.execute_batch(
            [
                (
                    f"INSERT INTO {self._ks}.posts (post_id, author_id, text, create_time, in_reply_to_user_id, "
                    "in_reply_to_post_id, quoted_post_id, entities) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                    (
                        post.post_id,
                        post.author_id,
                        post.text,
                        post.create_time,
                        post.in_reply_to_user_id,
                        post.in_reply_to_post_id,
                        post.quoted_post_id,
                        post.entities,
                        at,
                    ),
                ),
                (
                    f"INSERT INTO {self._ks}.user_timeline (author_id, post_id) VALUES (?, ?) USING TIMESTAMP ?",
                    (post.author_id, post.post_id, at),
                ),
                (_AUTHOR_ACTIVITY.format(ks=self._ks), (post.author_id, post.post_id, at)),
                (_POST_STATS.format(ks=self._ks), (post.post_id, 0, 0, 0, 0, at)),
            ]
        )

    async def note_activity(self, author_id: int, position: int, at: int) -> None:
        """The author's newest entry: written at the event's time, so whichever is newest wins in any order."""
        await self._db.execute(_AUTHOR_ACTIVITY.format(ks=self._ks), (author_id, position, at))

    async def add_edge(self, post_id: int, kind: str, other_id: int, at: int) -> None:
        """One like, repost, reply or quote of a post (`kind`), by user or post `other_id`."""
        await self._db.execute(
            f"INSERT INTO {self._ks}.post_edges (post_id, kind, other_id) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (post_id, kind, other_id, at),
        )

    async def remove_edge(self, post_id: int, kind: str, other_id: int, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.post_edges USING TIMESTAMP ? WHERE post_id = ? AND kind = ? AND other_id = ?",
            (at, post_id, kind, other_id),
        )

    async def recount(self, post_ids: set[int]) -> None:
        """Count the edges of each post again and write its `post_stats` row at the time the count was read: of two
        workers counting one post, the later count saw every edge the earlier one saw, so it wins (on one clock;
        hosts' clocks differ by milliseconds, the time between two counts of one post is longer)."""
        if not post_ids:
            return
        read_at = time.time_ns() // 1000
        ids = list(post_ids)
        counted = await asyncio.gather(*(self.edge_counts(ids[i : i + IN_LIMIT]) for i in range(0, len(ids), IN_LIMIT)))
        rows = [
            (post_id, c.get("reply", 0), c.get("repost", 0), c.get("quote", 0), c.get("like", 0), read_at)
            for counts in counted
            for post_id, c in counts.items()
        ]
        await self._db.execute_rows(_POST_STATS.format(ks=self._ks), rows)

    async def recount_all(self) -> int:
        """`recount` every post that has edges, RECOUNT_PAGE partitions of `post_edges` at a time in token order.
        Returns how many posts were counted."""
        select = f"SELECT DISTINCT post_id FROM {self._ks}.post_edges"
        first = f"{select} LIMIT {RECOUNT_PAGE}"
        after = f"{select} WHERE token(post_id) > token(?) LIMIT {RECOUNT_PAGE}"
        counted, rows = 0, await self._db.execute(first)
        while rows:
            await self.recount({row.post_id for row in rows})
            counted += len(rows)
            rows = await self._db.execute(after, (rows[-1].post_id,))
        return counted

    async def forget_post(self, post_id: int, at: int) -> None:
        await self._db.execute(f"DELETE FROM {self._ks}.posts USING TIMESTAMP ? WHERE post_id = ?", (at, post_id))

    async def add_follower(self, user_id: int, follower_id: int, at: int) -> None:
        """The edge both ways: `followers` for fan-out, `following` for reads."""
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.followers (user_id, follower_id) VALUES (?, ?) USING TIMESTAMP ?",
                (user_id, follower_id, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.following (follower_id, followee_id) VALUES (?, ?) USING TIMESTAMP ?",
                (follower_id, user_id, at),
            ),
        )

    async def remove_follower(self, user_id: int, follower_id: int, at: int) -> None:
        await asyncio.gather(
            self._db.execute(
                f"DELETE FROM {self._ks}.followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
                (at, user_id, follower_id),
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.following USING TIMESTAMP ? WHERE follower_id = ? AND followee_id = ?",
                (at, follower_id, user_id),
            ),
        )

    async def hold_back(self, author_id: int, entry: HomeEntry, at: int) -> None:
        """Record an entry (a post, or a repost) that is merged into its author's followers' home timelines when they
        read them. The entry before the note of a repost, as in `_add_home_rows`."""
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.held_back_entries (author_id, position, post_id, post_author_id) "
                "VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
                (author_id, entry.position, entry.post_id, entry.author_id, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.held_back_authors (bucket, author_id) VALUES (0, ?) USING TIMESTAMP ?",
                (author_id, at),
            ),
        )
        if entry.reposted_by:
            await self._db.execute(
                f"INSERT INTO {self._ks}.held_back_reposts_by_post (post_id, reposter_id, position) "
                "VALUES (?, ?, ?) USING TIMESTAMP ?",
                (entry.post_id, author_id, entry.position, at),
            )

    async def add_mute(self, muter_id: int, muted_id: int, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.mutes (muter_id, muted_id) VALUES (?, ?) USING TIMESTAMP ?",
            (muter_id, muted_id, at),
        )

    async def remove_mute(self, muter_id: int, muted_id: int, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.mutes USING TIMESTAMP ? WHERE muter_id = ? AND muted_id = ?",
            (at, muter_id, muted_id),
        )

    async def add_to_homes(self, readers: list[int], entry: HomeEntry, at: int, source: Provenance) -> None:
        """`source` is the event that puts the entry there, recorded for `chirp timeline explain`."""
        await self._add_home_rows([(reader, entry) for reader in readers], at, source)

    async def add_repost_to_homes(self, readers: list[int], entry: HomeEntry, at: int, source: Provenance) -> None:
        """The repost's entry, and in `home_reposts` what reads need to show its post once: who reposted it
        where."""
        await self._add_home_rows([(reader, entry) for reader in readers], at, source)

    async def add_entries_to_home(self, reader: int, entries: list[HomeEntry], at: int, source: Provenance) -> None:
        """One reader's new entries (a follow's backfill): one partition, so one batch."""
        await self._add_home_rows([(reader, entry) for entry in entries], at, source)

    async def _add_home_rows(self, placed: list[tuple[int, HomeEntry]], at: int, source: Provenance) -> None:
        """(reader, entry) rows, in batches of rows that share their replicas, not one statement per row; then the
        notes of the reposts among them. The entries before the notes: a read that knows of a newer repost always
        finds its entry (and hides the older ones only then)."""
        await self._db.execute_rows(
            self._home_entry, [_home_entry_row(reader, entry, at, source) for reader, entry in placed]
        )
        await self._db.execute_rows(
            self._home_repost, [_home_repost_row(reader, entry, at) for reader, entry in placed if entry.reposted_by]
        )

    async def remove_repost_from_homes(self, readers: list[int], entry: HomeEntry, at: int) -> None:
        await asyncio.gather(*(self.remove_entry_from_home(reader, entry, at) for reader in readers))

    async def remove_entry_from_home(self, reader: int, entry: HomeEntry, at: int) -> None:
        """The note of a repost before its entry, the mirror of `_add_home_rows`: the post's older entries show
        again before this one goes."""
        if entry.reposted_by:
            await self._db.execute(
                f"DELETE FROM {self._ks}.home_reposts USING TIMESTAMP ? "
                "WHERE user_id = ? AND post_id = ? AND reposter_id = ?",
                (at, reader, entry.post_id, entry.reposted_by),
            )
        await self._db.execute(
            f"DELETE FROM {self._ks}.home_entries USING TIMESTAMP ? WHERE user_id = ? AND position = ?",
            (at, reader, entry.position),
        )

    async def trim_home(self, reader: int, keep: int, at: int) -> None:
        """Everything older than the newest `keep` entries goes, in one range tombstone (not one per row)."""
        rows = await self._db.execute(
            f"SELECT position FROM {self._ks}.home_entries WHERE user_id = ? LIMIT ?", (reader, keep + 1)
        )
        if len(rows) > keep:
            await self._db.execute(
                f"DELETE FROM {self._ks}.home_entries USING TIMESTAMP ? WHERE user_id = ? AND position <= ?",
                (at, reader, rows[-1].position),
            )

    async def record_repost(self, reposter_id: int, entry: HomeEntry, at: int) -> None:
        """Every account's reposts, for follows and returning readers, and where each sits, for its undo."""
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.user_reposts (user_id, position, post_id, post_author_id) VALUES (?, ?, ?, ?) "
                "USING TIMESTAMP ?",
                (reposter_id, entry.position, entry.post_id, entry.author_id, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.repost_positions (user_id, post_id, position) VALUES (?, ?, ?) "
                "USING TIMESTAMP ?",
                (reposter_id, entry.post_id, entry.position, at),
            ),
            self.note_activity(reposter_id, entry.position, at),
        )

    async def forget_repost(self, reposter_id: int, entry: HomeEntry, at: int) -> None:
        """An undone repost leaves the reposter's reposts, and whatever held it back (its note first)."""
        await self._db.execute(
            f"DELETE FROM {self._ks}.held_back_reposts_by_post USING TIMESTAMP ? WHERE post_id = ? AND reposter_id = ?",
            (at, entry.post_id, reposter_id),
        )
        await asyncio.gather(
            self._db.execute(
                f"DELETE FROM {self._ks}.user_reposts USING TIMESTAMP ? WHERE user_id = ? AND position = ?",
                (at, reposter_id, entry.position),
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.repost_positions USING TIMESTAMP ? WHERE user_id = ? AND post_id = ?",
                (at, reposter_id, entry.post_id),
            ),
            self._db.execute(
                f"DELETE FROM {self._ks}.held_back_entries USING TIMESTAMP ? WHERE author_id = ? AND position = ?",
                (at, reposter_id, entry.position),
            ),
        )

    async def repost_position(self, reposter_id: int, post_id: int) -> int | None:
        rows = await self._db.execute(
            f"SELECT position FROM {self._ks}.repost_positions WHERE user_id = ? AND post_id = ?",
            (reposter_id, post_id),
        )
        return rows[0].position if rows else None

    async def user_ids(self) -> list[int]:
        """Every user the projection knows (the driver pages through the table)."""
        return [row.user_id for row in await self._db.execute_raw(f"SELECT user_id FROM {self._ks}.users")]

    # -- reads ---------------------------------------------------------------------------------------------
    async def follower_ids(self, user_id: int, limit: int | None = None) -> list[int]:
        """Every follower (or the first `limit`), read in pages by clustering key."""
        found: list[int] = []
        after = -(2**63)
        while True:
            page = FOLLOWER_PAGE if limit is None else min(FOLLOWER_PAGE, limit - len(found))
            rows = await self._db.execute(
                f"SELECT follower_id FROM {self._ks}.followers WHERE user_id = ? AND follower_id > ? LIMIT ?",
                (user_id, after, page),
            )
            found.extend(row.follower_id for row in rows)
            if len(rows) < page or len(found) == limit:
                return found
            after = rows[-1].follower_id

    async def followee_ids(self, user_id: int) -> list[int]:
        rows = await self._db.execute(f"SELECT followee_id FROM {self._ks}.following WHERE follower_id = ?", (user_id,))
        return [row.followee_id for row in rows]

    async def held_back_authors_followed_by(self, reader: int) -> list[int]:
        authors = [
            row.author_id
            for row in await self._db.execute(
                f"SELECT author_id FROM {self._ks}.held_back_authors WHERE bucket = 0", ()
            )
        ]
        if not authors:
            return []
        rows = await self._db.execute(
            f"SELECT followee_id FROM {self._ks}.following WHERE follower_id = ? AND followee_id IN ?",
            (reader, authors),
        )
        return [row.followee_id for row in rows]

    async def held_back_entry(self, author_id: int, position: int) -> bool:
        rows = await self._db.execute(
            f"SELECT position FROM {self._ks}.held_back_entries WHERE author_id = ? AND position = ?",
            (author_id, position),
        )
        return bool(rows)

    async def held_back_page(self, author_id: int, before: int, limit: int) -> list[HomeEntry]:
        rows = await self._db.execute(
            f"SELECT position, post_id, post_author_id FROM {self._ks}.held_back_entries "
            "WHERE author_id = ? AND position < ? LIMIT ?",
            (author_id, before, limit),
        )
        return [
            HomeEntry(
                row.position,
                row.post_id,
                reposted_by=author_id if row.position != row.post_id else 0,
                held_back=True,
                author_id=row.post_author_id or author_id,
            )
            for row in rows
        ]

    async def home_reposts_of(self, reader: int, post_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
        """Post id -> (reposter, position) of every repost of it fanned out to the reader (one partition)."""
        found: dict[int, list[tuple[int, int]]] = {}
        if post_ids:
            rows = await self._db.execute(
                f"SELECT post_id, reposter_id, position FROM {self._ks}.home_reposts WHERE user_id = ? AND post_id "
                "IN ?",
                (reader, list(set(post_ids))),
            )
            for row in rows:
                if row.position is not None:
                    found.setdefault(row.post_id, []).append((row.reposter_id, row.position))
        return found

    async def held_back_reposts_of(self, post_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
        """Post id -> (reposter, position) of every held-back repost of it."""
        found: dict[int, list[tuple[int, int]]] = {}
        unique = list(set(post_ids))
        chunks = await asyncio.gather(
            *(
                self._db.execute(
                    f"SELECT post_id, reposter_id, position FROM {self._ks}.held_back_reposts_by_post "
                    "WHERE post_id IN ?",
                    (unique[i : i + IN_LIMIT],),
                )
                for i in range(0, len(unique), IN_LIMIT)
            )
        )
        for rows in chunks:
            for row in rows:
                found.setdefault(row.post_id, []).append((row.reposter_id, row.position))
        return found

    async def home_entry(self, reader: int, position: int) -> tuple[HomeEntry, Provenance] | None:
        """One entry of the reader's home timeline and what wrote it; None without a row."""
        rows = await self._db.execute(
            f"SELECT post_id, author_id, reposted_by, source_topic, source_partition, source_offset "
            f"FROM {self._ks}.home_entries WHERE user_id = ? AND position = ?",
            (reader, position),
        )
        if not rows:
            return None
        row = rows[0]
        entry = HomeEntry(position, row.post_id, reposted_by=row.reposted_by or 0, author_id=row.author_id or 0)
        return entry, Provenance(row.source_topic or "", row.source_partition or 0, row.source_offset or 0)

    async def follows(self, follower_id: int, user_id: int) -> bool:
        rows = await self._db.execute(
            f"SELECT follower_id FROM {self._ks}.followers WHERE user_id = ? AND follower_id = ?",
            (user_id, follower_id),
        )
        return bool(rows)

    async def muted_ids(self, muter_id: int) -> set[int]:
        rows = await self._db.execute(f"SELECT muted_id FROM {self._ks}.mutes WHERE muter_id = ?", (muter_id,))
        return {row.muted_id for row in rows}

    async def recent_entries(self, author_id: int, limit: int, before: int = NEWEST) -> list[HomeEntry]:
        """The author's newest `limit` entries below `before`, posts and reposts, newest first."""
        posts, reposts = await asyncio.gather(
            self._db.execute(
                f"SELECT post_id FROM {self._ks}.user_timeline WHERE author_id = ? AND post_id < ? LIMIT ?",
                (author_id, before, limit),
            ),
            self._db.execute(
                f"SELECT position, post_id, post_author_id FROM {self._ks}.user_reposts "
                "WHERE user_id = ? AND position < ? LIMIT ?",
                (author_id, before, limit),
            ),
        )
        entries = [post_entry(row.post_id, author_id) for row in posts] + [
            HomeEntry(row.position, row.post_id, reposted_by=author_id, author_id=row.post_author_id or 0)
            for row in reposts
        ]
        return sorted(entries, key=lambda entry: entry.position, reverse=True)[:limit]

    async def last_positions(self, author_ids: list[int]) -> dict[int, int]:
        """Author -> the position of their newest post or repost (authors with none are left out)."""
        chunks = await asyncio.gather(
            *(
                self._db.execute(
                    f"SELECT author_id, last_position FROM {self._ks}.author_activity WHERE author_id IN ?",
                    (author_ids[i : i + IN_LIMIT],),
                )
                for i in range(0, len(author_ids), IN_LIMIT)
            )
        )
        return {row.author_id: row.last_position for rows in chunks for row in rows if row.last_position}

    async def home_page(self, owner: int, before: int, limit: int) -> list[HomeEntry]:
        """Entries of a home timeline's rows, newest first, below `before`."""
        rows = await self._db.execute(
            f"SELECT position, post_id, reposted_by, author_id FROM {self._ks}.home_entries "
            "WHERE user_id = ? AND position < ? LIMIT ?",
            (owner, before, limit),
        )
        return [HomeEntry(r.position, r.post_id, r.reposted_by or 0, author_id=r.author_id or 0) for r in rows]

    async def user_page(self, owner: int, before: int, limit: int) -> list[HomeEntry]:
        """Entries of a user timeline (the user's posts), newest first, below `before`."""
        rows = await self._db.execute(
            f"SELECT post_id FROM {self._ks}.user_timeline WHERE author_id = ? AND post_id < ? LIMIT ?",
            (owner, before, limit),
        )
        return [post_entry(row.post_id, owner) for row in rows]

    async def get_posts(self, post_ids: list[int]) -> dict[int, StoredPost]:
        """One query for a page's posts (an IN over their partitions): a read costs a few round trips, not one per "
        "item."""
        unique = list(set(post_ids))
        chunks = await asyncio.gather(
            *(
                self._db.execute(
                    f"SELECT post_id, author_id, text, create_time, in_reply_to_user_id, in_reply_to_post_id, "
                    f"quoted_post_id, entities FROM {self._ks}.posts WHERE post_id IN ?",
                    (unique[i : i + IN_LIMIT],),
                )
                for i in range(0, len(unique), IN_LIMIT)
            )
        )
        return {
            r.post_id: StoredPost(
                r.post_id,
                r.author_id,
                r.text,
                as_utc(r.create_time),
                r.in_reply_to_user_id or 0,
                r.in_reply_to_post_id or 0,
                r.quoted_post_id or 0,
                r.entities or b"",
            )
            for rows in chunks
            for r in rows
        }

    async def post_stats(self, post_ids: list[int]) -> dict[int, dict[str, int]]:
        """Post id -> kind -> how many, from each post's `post_stats` row: one query for a page. A post from before
        that table is counted from its edges."""
        counts: dict[int, dict[str, int]] = {}
        if post_ids:
            rows = await self._db.execute(
                f"SELECT post_id, replies, reposts, quotes, likes FROM {self._ks}.post_stats WHERE post_id IN ?",
                (list(set(post_ids)),),
            )
            for r in rows:
                counts[r.post_id] = {"reply": r.replies, "repost": r.reposts, "quote": r.quotes, "like": r.likes}
        uncounted = [post_id for post_id in post_ids if post_id not in counts]
        return counts | await self.edge_counts(uncounted) if uncounted else counts

    async def edge_counts(self, post_ids: list[int]) -> dict[int, dict[str, int]]:
        """Post id -> kind -> how many: each post's edges are one partition, counted by kind, all in one query."""
        counts: dict[int, dict[str, int]] = {pid: {} for pid in post_ids}
        if post_ids:
            rows = await self._db.execute(
                f"SELECT post_id, kind, count(*) AS n FROM {self._ks}.post_edges WHERE post_id IN ? GROUP BY "
                "post_id, kind",
                (list(counts),),
            )
            for row in rows:
                counts[row.post_id][row.kind] = row.n
        return counts

    async def get_users(self, user_ids: set[int]) -> dict[int, StoredUser]:
        if not user_ids:
            return {}
        rows = await self._db.execute(
            f"SELECT user_id, handle, display_name FROM {self._ks}.users WHERE user_id IN ?", (list(user_ids),)
        )
        return {r.user_id: StoredUser(r.user_id, r.handle, r.display_name) for r in rows}


_AUTHOR_ACTIVITY = "INSERT INTO {ks}.author_activity (author_id, last_position) VALUES (?, ?) USING TIMESTAMP ?"
_POST_STATS = (
    "INSERT INTO {ks}.post_stats (post_id, replies, reposts, quotes, likes) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
_HOME_ENTRY = (
    "INSERT INTO {ks}.home_entries (user_id, position, post_id, author_id, reposted_by, source_topic, "
    "source_partition, source_offset) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
_HOME_REPOST = (
    "INSERT INTO {ks}.home_reposts (user_id, post_id, reposter_id, position) VALUES (?, ?, ?, ?) USING TIMESTAMP ?"
)


def _home_entry_row(reader: int, entry: HomeEntry, at: int, source: Provenance) -> tuple:
    """The whole row, so that it never exists half-written (an own post leaves `reposted_by` unset: no
    tombstone)."""
    return (
        reader,
        entry.position,
        entry.post_id,
        entry.author_id,
        entry.reposted_by or UNSET_VALUE,
        source.topic,
        source.partition,
        source.offset,
        at,
    )


def _home_repost_row(reader: int, entry: HomeEntry, at: int) -> tuple:
    return (reader, entry.post_id, entry.reposted_by, entry.position, at)
