"""The identity service's Cassandra tables."""

from datetime import datetime

from services.runtime.cassandra import CassandraSession

OPERATOR = "operator"


class IdentityRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def operator_secret_hash(self) -> bytes | None:
        rows = await self._db.execute(f"SELECT secret_hash FROM {self._ks}.operators WHERE name = ?", (OPERATOR,))
        return rows[0].secret_hash if rows else None

    async def save_operator_secret_hash(self, secret_hash: bytes, at: datetime) -> bool:
        """Only if none is stored yet; False when one was (a second setup keeps the first credential)."""
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.operators (name, secret_hash, create_time) VALUES (?, ?, ?) IF NOT EXISTS",
            (OPERATOR, secret_hash, at),
            idempotent=False,
        )
        return bool(rows[0].applied)
