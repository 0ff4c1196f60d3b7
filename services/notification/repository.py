"""The notification service's Cassandra tables."""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.notification.domain import NewNotification
from services.runtime.cassandra import CassandraSession
from services.runtime.events import as_utc


@dataclass(frozen=True)
class StoredNotification:
    notification_id: UUID
    recipient_id: int
    kind: int
    actor_id: int
    create_time: datetime
    post_id: int
    post_text: str


class NotificationRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def save_user(self, user_id: int, handle: str, display_name: str, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (user_id, handle, display_name, at),
        )

    async def handles(self, user_ids: set[int]) -> dict[int, str]:
        rows = await asyncio.gather(
            *(self._db.execute(f"SELECT user_id, handle FROM {self._ks}.users WHERE user_id = ?", (u,)) for u in user_ids)
        )
        return {r[0].user_id: r[0].handle for r in rows if r}

    async def save(self, notifications: list[NewNotification], at: int) -> None:
        await asyncio.gather(
            *(
                self._db.execute(
                    f"INSERT INTO {self._ks}.notifications (recipient_id, create_time, notification_id, kind, actor_id,"
                    " post_id, post_text) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                    (n.recipient_id, n.create_time, n.notification_id, n.kind, n.actor_id, n.post_id, n.post_text, at),
                )
                for n in notifications
            )
        )

    async def page(self, recipient_id: int, before: tuple[datetime, UUID] | None, limit: int) -> list[StoredNotification]:
        columns = "notification_id, recipient_id, kind, actor_id, create_time, post_id, post_text"
        if before is None:
            rows = await self._db.execute(
                f"SELECT {columns} FROM {self._ks}.notifications WHERE recipient_id = ? LIMIT ?", (recipient_id, limit)
            )
        else:
            rows = await self._db.execute(
                f"SELECT {columns} FROM {self._ks}.notifications WHERE recipient_id = ?"
                " AND (create_time, notification_id) < (?, ?) LIMIT ?",
                (recipient_id, *before, limit),
            )
        return [
            StoredNotification(r.notification_id, r.recipient_id, r.kind, r.actor_id, as_utc(r.create_time), r.post_id or 0, r.post_text or "")
            for r in rows
        ]
