"""The timeline state that every version of the projection shares, in the service's base keyspace.

A rebuild replays the log into a new version of the projected tables (`repository.py`); what lives here is not in
the log and must survive the switch: the fan-out threshold an operator set at run time, when each reader last
read, and which readers fan-out skips as inactive. Keeping it apart from the versioned tables is a rule of the
design: a new version starts with fresh rows and this same state.
"""

import asyncio
from dataclasses import dataclass

from services.runtime.bounded import gather_bounded
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc, datetime_from_ms


@dataclass(frozen=True)
class Activity:
    # Milliseconds since the epoch of the last recorded home-timeline read; None if never recorded.
    last_read_ms: int | None
    inactive: bool
    # Back from inactivity, their home timeline's rows are still being rebuilt (reads merge in what is missing).
    rebuild_pending: bool = False


class ReaderState:
    def __init__(self, session: CassandraSession, base_keyspace: str) -> None:
        self._db = session
        self._ks = base_keyspace

    async def fanout_threshold(self) -> int | None:
        rows = await self._db.execute(f"SELECT value FROM {self._ks}.fanout_settings WHERE name = 'threshold'", ())
        return rows[0].value if rows else None

    async def set_fanout_threshold(self, value: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.fanout_settings (name, value) VALUES ('threshold', ?)", (value,)
        )

    async def activity(self, user_id: int) -> Activity:
        rows = await self._db.execute(
            f"SELECT last_read, inactive, rebuild_pending FROM {self._ks}.activity WHERE user_id = ?", (user_id,)
        )
        if not rows:
            return Activity(None, False)
        last_read = rows[0].last_read
        return Activity(
            int(as_utc(last_read).timestamp() * 1000) if last_read else None,
            bool(rows[0].inactive),
            bool(rows[0].rebuild_pending),
        )

    async def record_read(self, user_id: int, now_ms: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.activity (user_id, last_read, inactive) VALUES (?, ?, false) USING TIMESTAMP ?",
            (user_id, datetime_from_ms(now_ms), now_ms * 1000),
        )

    async def mark_inactive(self, user_id: int, followee_ids: list[int], last_read_ms: int) -> None:
        """Written at the last read's time (plus 1 µs), so a read recorded since, in whatever order the writes
        land, wins over it: a sweep racing a returning reader cannot leave them skipped."""
        at = last_read_ms * 1000 + 1
        await asyncio.gather(
            self._db.execute(
                f"UPDATE {self._ks}.activity USING TIMESTAMP ? SET inactive = true WHERE user_id = ?", (at, user_id)
            ),
            *(
                self._db.execute(
                    f"INSERT INTO {self._ks}.inactive_followers (user_id, follower_id) VALUES (?, ?) USING TIMESTAMP ?",
                    (followee, user_id, at),
                )
                for followee in followee_ids
            ),
        )

    async def mark_active(self, user_id: int, followee_ids: list[int], now_ms: int, in_flight: int) -> None:
        """Fan-out reaches the reader again from here; their rows are rebuilt next (`rebuild_pending` until
        `rebuilt`), so a process that dies meanwhile leaves the rebuild for the next read to finish. One statement
        per followee, `in_flight` at a time (services/runtime/bounded.py)."""
        await gather_bounded(
            in_flight,
            (
                self._db.execute(
                    f"DELETE FROM {self._ks}.inactive_followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id "
                    "= ?",
                    (now_ms * 1000, followee, user_id),
                )
                for followee in followee_ids
            ),
        )
        await self._db.execute(
            f"INSERT INTO {self._ks}.activity (user_id, last_read, inactive, rebuild_pending) VALUES (?, ?, false, "
            "true) "
            "USING TIMESTAMP ?",
            (user_id, datetime_from_ms(now_ms), now_ms * 1000),
        )

    async def rebuilt(self, user_id: int, now_ms: int) -> None:
        await self._db.execute(
            f"UPDATE {self._ks}.activity USING TIMESTAMP ? SET rebuild_pending = false WHERE user_id = ?",
            (now_ms * 1000, user_id),
        )

    async def inactive_follower_ids(self, user_id: int) -> set[int]:
        rows = await self._db.execute(
            f"SELECT follower_id FROM {self._ks}.inactive_followers WHERE user_id = ?", (user_id,)
        )
        return {row.follower_id for row in rows}
