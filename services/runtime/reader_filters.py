"""Readers' filters as a reading service keeps them: its own copy, in its own keyspace, of the graph service's
filters (FilterCreated, FilterUpdated, FilterDeleted on the graph topic), so it can apply them to what it shows
without reading another service's tables. Each row is written at its event's time, so a replayed or re-delivered
event changes nothing and a deletion wins over an older change. The table is `reader_filters` (user_id, filter_id,
filter blob), in the service's schema."""

from chirp.graph.v1 import graph_pb2
from services.runtime.cassandra import CassandraSession


class ReaderFilterRows:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def apply(self, event: graph_pb2.GraphEvent, at: int) -> None:
        """Project one graph event (any kind: those that are not about filters change nothing)."""
        kind = event.WhichOneof("payload")
        if kind in ("filter_created", "filter_updated"):
            await self.save(getattr(event, kind).filter, at)
        elif kind == "filter_deleted":
            await self.delete(event.filter_deleted.user_id, event.filter_deleted.filter_id, at)

    async def save(self, filter_: graph_pb2.Filter, at: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.reader_filters (user_id, filter_id, filter) VALUES (?, ?, ?) USING TIMESTAMP ?",
            (filter_.user_id, filter_.filter_id, filter_.SerializeToString(), at),
        )

    async def delete(self, user_id: int, filter_id: int, at: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.reader_filters USING TIMESTAMP ? WHERE user_id = ? AND filter_id = ?",
            (at, user_id, filter_id),
        )

    async def of(self, user_id: int) -> list[graph_pb2.Filter]:
        rows = await self._db.execute(f"SELECT filter FROM {self._ks}.reader_filters WHERE user_id = ?", (user_id,))
        return [graph_pb2.Filter.FromString(row.filter) for row in rows]
