"""The timeline service's Cassandra tables. Writes take an explicit write time (microseconds) from the event."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from cassandra.query import UNSET_VALUE

from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc
from services.timeline.domain import HomeEntry, Provenance

FOLLOWER_PAGE = 5000
# Partitions one IN query names at most (a page holds at most 100 posts).
IN_LIMIT = 100


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

    # -- writes (projection) -------------------------------------------------------------------------------
    async def save_user(self, user: StoredUser, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user.user_id, user.handle, user.display_name, at),
        )

    async def save_post(self, post: StoredPost, at: int) -> None:
        await asyncio.gather(
            self._db.execute(
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
            self._db.execute(
                f"INSERT INTO {self._ks}.user_timeline (author_id, post_id) VALUES (?, ?) USING TIMESTAMP ?",
                (post.author_id, post.post_id, at),
            ),
        )

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

    async def hold_back(self, author_id: int, post_id: int, at: int) -> None:
        """Record a post that is merged into its author's followers' home timelines when they read them."""
        await asyncio.gather(
            self._db.execute(
                f"INSERT INTO {self._ks}.held_back_posts (author_id, post_id) VALUES (?, ?) USING TIMESTAMP ?",
                (author_id, post_id, at),
            ),
            self._db.execute(
                f"INSERT INTO {self._ks}.held_back_authors (bucket, author_id) VALUES (0, ?) USING TIMESTAMP ?",
                (author_id, at),
            ),
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

    async def add_to_homes(self, readers: list[int], post_id: int, author_id: int, at: int, source: Provenance) -> None:
        """`source` is the event that puts the post there, recorded for `chirp timeline explain`. `reposted_by` is
        left unset, not null: no tombstone, and a repost written at a later time keeps its attribution."""
        await asyncio.gather(
            *(self.set_home_entry(reader, post_id, author_id, UNSET_VALUE, at, source) for reader in readers)
        )

    async def trim_home(self, reader: int, keep: int, at: int) -> None:
        """Everything older than the newest `keep` entries goes, in one range tombstone (not one per row)."""
        rows = await self._db.execute(
            f"SELECT post_id FROM {self._ks}.home_timeline WHERE user_id = ? LIMIT ?", (reader, keep + 1)
        )
        if len(rows) > keep:
            await self._db.execute(
                f"DELETE FROM {self._ks}.home_timeline USING TIMESTAMP ? WHERE user_id = ? AND post_id <= ?",
                (at, reader, rows[-1].post_id),
            )

    async def add_repost_to_homes(
        self, readers: list[int], post_id: int, author_id: int, reposter_id: int, at: int, source: Provenance
    ) -> None:
        await asyncio.gather(
            *(
                self._db.execute(
                    f"INSERT INTO {self._ks}.home_reposts (user_id, post_id, reposter_id) VALUES (?, ?, ?) USING "
                    "TIMESTAMP ?",
                    (reader, post_id, reposter_id, at),
                )
                for reader in readers
            ),
            *(self.set_home_entry(reader, post_id, author_id, reposter_id, at, source) for reader in readers),
        )

    async def remove_repost(self, reader: int, post_id: int, reposter_id: int, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.home_reposts USING TIMESTAMP ? WHERE user_id = ? AND post_id = ? AND "
            "reposter_id = ?",
            (at, reader, post_id, reposter_id),
        )

    async def reposters_in_home(self, reader: int, post_id: int) -> list[int]:
        rows = await self._db.execute(
            f"SELECT reposter_id FROM {self._ks}.home_reposts WHERE user_id = ? AND post_id = ?", (reader, post_id)
        )
        return [row.reposter_id for row in rows]

    async def set_home_entry(
        self, reader: int, post_id: int, author_id: int, reposted_by: object, at: int, source: Provenance
    ) -> None:
        """The whole row, so that it never exists half-written. `reposted_by`: an id, None (no longer a repost) or
        UNSET_VALUE (leave as is)."""
        await self._db.execute(
            f"INSERT INTO {self._ks}.home_timeline (user_id, post_id, author_id, reposted_by, source_topic, "
            "source_partition, source_offset) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
            (reader, post_id, author_id, reposted_by, source.topic, source.partition, source.offset, at),
        )

    async def add_posts_to_home(
        self, reader: int, post_ids: list[int], author_id: int, at: int, source: Provenance
    ) -> None:
        await asyncio.gather(*(self.add_to_homes([reader], post_id, author_id, at, source) for post_id in post_ids))

    async def remove_posts_from_home(self, reader: int, post_ids: list[int], at: int) -> None:
        await asyncio.gather(
            *(
                self._db.execute(
                    f"DELETE FROM {self._ks}.home_timeline USING TIMESTAMP ? WHERE user_id = ? AND post_id = ?",
                    (at, reader, post_id),
                )
                for post_id in post_ids
            )
        )

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

    async def is_held_back(self, author_id: int, post_id: int) -> bool:
        rows = await self._db.execute(
            f"SELECT post_id FROM {self._ks}.held_back_posts WHERE author_id = ? AND post_id = ?", (author_id, post_id)
        )
        return bool(rows)

    async def held_back_page(self, author_id: int, before: int, limit: int) -> list[HomeEntry]:
        rows = await self._db.execute(
            f"SELECT post_id FROM {self._ks}.held_back_posts WHERE author_id = ? AND post_id < ? LIMIT ?",
            (author_id, before, limit),
        )
        return [HomeEntry(row.post_id, held_back=True, author_id=author_id) for row in rows]

    async def home_row_source(self, reader: int, post_id: int) -> Provenance | None:
        """What wrote the post into the reader's home timeline; None without a row."""
        rows = await self._db.execute(
            f"SELECT source_topic, source_partition, source_offset FROM {self._ks}.home_timeline WHERE user_id = ? "
            "AND post_id = ?",
            (reader, post_id),
        )
        return (
            Provenance(rows[0].source_topic or "", rows[0].source_partition or 0, rows[0].source_offset or 0)
            if rows
            else None
        )

    async def follows(self, follower_id: int, user_id: int) -> bool:
        rows = await self._db.execute(
            f"SELECT follower_id FROM {self._ks}.followers WHERE user_id = ? AND follower_id = ?",
            (user_id, follower_id),
        )
        return bool(rows)

    async def muted_ids(self, muter_id: int) -> set[int]:
        rows = await self._db.execute(f"SELECT muted_id FROM {self._ks}.mutes WHERE muter_id = ?", (muter_id,))
        return {row.muted_id for row in rows}

    async def recent_post_ids(self, author_id: int, limit: int) -> list[int]:
        rows = await self._db.execute(
            f"SELECT post_id FROM {self._ks}.user_timeline WHERE author_id = ? LIMIT ?", (author_id, limit)
        )
        return [row.post_id for row in rows]

    async def timeline_page(self, table: str, owner: int, before: int, limit: int) -> list[HomeEntry]:
        """Entries of a home (`home_timeline`) or user (`user_timeline`) timeline, newest first, below `before`."""
        if table == "home_timeline":
            cql = (
                f"SELECT post_id, reposted_by, author_id FROM {self._ks}.home_timeline "
                "WHERE user_id = ? AND post_id < ? LIMIT ?"
            )
            rows = await self._db.execute(cql, (owner, before, limit))
            return [HomeEntry(row.post_id, row.reposted_by or 0, author_id=row.author_id or 0) for row in rows]
        cql = f"SELECT post_id FROM {self._ks}.user_timeline WHERE author_id = ? AND post_id < ? LIMIT ?"
        return [HomeEntry(row.post_id, author_id=owner) for row in await self._db.execute(cql, (owner, before, limit))]

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
