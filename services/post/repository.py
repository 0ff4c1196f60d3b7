"""The post service's Cassandra table."""

from chirp.post.v1 import post_pb2
from services.runtime.cassandra import CassandraSession
from services.runtime.events import as_utc, timestamp_from_datetime


class PostRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def save(self, post: post_pb2.Post) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.posts (post_id, author_id, text, create_time, mentions) VALUES (?, ?, ?, ?, ?)",
            (
                post.post_id,
                post.author_id,
                post.text,
                post.create_time.ToDatetime(),
                [(m.user_id, m.handle, m.start, m.end) for m in post.mentions],
            ),
        )

    async def delete(self, post_id: int) -> None:
        await self._db.execute(f"DELETE FROM {self._ks}.posts WHERE post_id = ?", (post_id,))

    async def get(self, post_id: int) -> post_pb2.Post | None:
        rows = await self._db.execute(
            f"SELECT post_id, author_id, text, create_time, mentions FROM {self._ks}.posts WHERE post_id = ?", (post_id,)
        )
        if not rows:
            return None
        row = rows[0]
        return post_pb2.Post(
            post_id=row.post_id,
            author_id=row.author_id,
            text=row.text,
            create_time=timestamp_from_datetime(as_utc(row.create_time)),
            mentions=[post_pb2.Mention(user_id=u, handle=h, start=s, end=e) for u, h, s, e in row.mentions or ()],
        )
