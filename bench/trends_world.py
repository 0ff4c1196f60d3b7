"""A small world of accounts, follows and posts for the trends tests and the bench: events with chosen times, as
Kafka records, to apply to a TrendsProjection directly (integration tests) or to publish on the topics (end-to-end
tests, the bench's trends phase)."""

import asyncio
import itertools
import random
import uuid

from aiokafka.partitioner import DefaultPartitioner

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.runtime.clock import timestamp_from_ms
from services.runtime.ids import first_id_at
from services.runtime.projection.records import Record
from services.runtime.topics import POST_EVENTS
from services.text.entities import extract_entities
from services.text.urls import extract_urls
from services.trends.domain import DAY_MS, HOUR_MS, MINUTE_MS

POSTS, GRAPH = "posts", "graph"
# The events topics' partitions (every one has as many as the post topic).
PARTITIONS = list(range(POST_EVENTS.partitions))
# A moment well inside an hour, so that a window and its buckets are easy to reason about.
NOW = 1_800_000_000_000 - 1_800_000_000_000 % HOUR_MS + 40 * MINUTE_MS

_WORDS = (
    "river stone cloud maple ember violet harbor canyon meadow lantern orbit quartz willow saffron tundra cobalt "
    "falcon juniper marble nectar pepper raven summit thistle velvet walnut yonder zephyr acorn bramble cedar delta "
    "fjord glacier hazel iris jasper kelp lotus mosaic nimbus opal prism quill rune sable tidal umber vertex wren"
).split()


def distinct_text(i: int, tag: str, lang: str = "en") -> str:
    """A text of its own for account i, about #tag: organic posts say different things."""
    words = random.Random(i).sample(_WORDS, 6)
    if lang == "it":
        return f"Oggi {words[0]} e {words[1]} vicino al {words[2]} #{tag}"
    if lang == "ja":
        place = ["京都", "大阪", "札幌", "福岡", "名古屋", "神戸", "仙台", "横浜", "奈良", "広島", "金沢", "長崎"][
            i % 12
        ]
        who = ["友達", "家族", "同僚", "先生"][i % 4]
        what = ["ご飯を食べました", "散歩しました", "買い物に行きました"][i % 3]
        return f"今日は{place}で{who}と{what} #{tag}"
    return f"{' '.join(words).capitalize()} #{tag}"


class World:
    """Events in the order the topics would hold them, one offset counter per (topic, partition)."""

    def __init__(self, post_topic: str = POSTS, graph_topic: str = GRAPH, now: int = NOW) -> None:
        self.post_topic, self.graph_topic, self.now = post_topic, graph_topic, now
        base = uuid.uuid4().int % 1_000_000 * 1_000_000
        self._ids = itertools.count(base + 1)
        # Post ids are first_id_at(time) plus 22 bits of worker and sequence: a random start keeps two worlds' posts
        # at the same moment apart.
        self._sequence = itertools.count(random.getrandbits(22))
        self._offsets: dict[tuple[str, int], itertools.count] = {}
        self.records: list[Record] = []
        self.posts: dict[int, int] = {}  # post id -> author

    def _record(self, topic: str, key: int, event) -> Record:
        # The partition Kafka's default partitioner gives the key, as it does to the services' own events: a like
        # of a post made through the post service must follow the post in its partition. `key % 6` put them on
        # different partitions, so a replay could apply the like first and drop it (the post unknown yet).
        encoded = str(key).encode()
        partition = DefaultPartitioner()(encoded, PARTITIONS, PARTITIONS)
        offsets = self._offsets.setdefault((topic, partition), itertools.count())
        record = Record(topic, partition, next(offsets), encoded, event.SerializeToString())
        self.records.append(record)
        return record

    def account(self, created_ms: int, followers: int = 0, handle: str | None = None) -> int:
        user_id = next(self._ids)
        user = graph_pb2.User(
            user_id=user_id,
            handle=handle or f"u{user_id}",
            display_name="",
            create_time=timestamp_from_ms(created_ms),
        )
        self._record(
            self.graph_topic,
            user_id,
            graph_pb2.GraphEvent(
                event_id=str(uuid.uuid4()),
                occurred_at=timestamp_from_ms(created_ms),
                user_created=graph_pb2.UserCreated(user=user),
            ),
        )
        for _ in range(followers):
            self.follow(next(self._ids), user_id, created_ms + 1000)
        return user_id

    def established(self, count: int, followers: int = 12) -> list[int]:
        """Accounts a year old with `followers` followers each."""
        return [self.account(self.now - 365 * DAY_MS, followers) for _ in range(count)]

    def puppets(self, count: int) -> list[int]:
        """Accounts made two hours ago that nobody follows."""
        return [self.account(self.now - 2 * HOUR_MS, 0) for _ in range(count)]

    def follow(self, follower_id: int, followee_id: int, at_ms: int) -> None:
        edge = graph_pb2.UserFollowed(follower_id=follower_id, followee_id=followee_id)
        event = graph_pb2.GraphEvent(
            event_id=str(uuid.uuid4()), occurred_at=timestamp_from_ms(at_ms), user_followed=edge
        )
        self._record(self.graph_topic, follower_id, event)

    def block(self, blocker_id: int, blocked_id: int, at_ms: int) -> None:
        change = graph_pb2.UserBlocked(blocker_id=blocker_id, blocked_id=blocked_id)
        event = graph_pb2.GraphEvent(
            event_id=str(uuid.uuid4()), occurred_at=timestamp_from_ms(at_ms), user_blocked=change
        )
        self._record(self.graph_topic, blocker_id, event)

    def hide_word(self, user_id: int, keyword: str, at_ms: int) -> None:
        """The user makes a filter hiding `keyword` (whole word) in the public context, where trends are."""
        made = graph_pb2.Filter(
            filter_id=next(self._sequence) + 1,
            user_id=user_id,
            title=keyword,
            contexts=[graph_pb2.FILTER_CONTEXT_PUBLIC],
            action=graph_pb2.FILTER_ACTION_HIDE,
            keywords=[graph_pb2.FilterKeyword(keyword_id=1, keyword=keyword, whole_word=True)],
            update_time=timestamp_from_ms(at_ms),
        )
        event = graph_pb2.GraphEvent(
            event_id=str(uuid.uuid4()),
            occurred_at=timestamp_from_ms(at_ms),
            filter_created=graph_pb2.FilterCreated(filter=made),
        )
        self._record(self.graph_topic, user_id, event)

    def post(self, author_id: int, text: str, at_ms: int, reply_to: int = 0) -> int:
        post_id = first_id_at(at_ms) + next(self._sequence) % (1 << 22)
        entities = extract_entities(text)
        post = post_pb2.Post(
            post_id=post_id,
            author_id=author_id,
            text=text,
            create_time=timestamp_from_ms(at_ms),
            hashtags=[
                post_pb2.TextEntity(value=e.value, start=e.start, end=e.end) for e in entities if e.kind == "hashtag"
            ],
            urls=[
                post_pb2.TextEntity(value=text[s.start : s.end], start=s.start, end=s.end) for s in extract_urls(text)
            ],
            in_reply_to_post_id=reply_to,
            in_reply_to_user_id=self.posts.get(reply_to, 0),
        )
        event = post_pb2.PostEvent(
            event_id=str(uuid.uuid4()),
            occurred_at=timestamp_from_ms(at_ms),
            post_created=post_pb2.PostCreated(post=post),
        )
        self._record(self.post_topic, author_id, event)
        self.posts[post_id] = author_id
        return post_id

    def delete(self, post_id: int, at_ms: int) -> None:
        author_id = self.posts[post_id]
        deleted = post_pb2.PostDeleted(post_id=post_id, author_id=author_id)
        event = post_pb2.PostEvent(
            event_id=str(uuid.uuid4()), occurred_at=timestamp_from_ms(at_ms), post_deleted=deleted
        )
        self._record(self.post_topic, author_id, event)

    def like(self, user_id: int, post_id: int, at_ms: int) -> None:
        author_id = self.posts[post_id]
        liked = post_pb2.PostLiked(post_id=post_id, author_id=author_id, user_id=user_id)
        event = post_pb2.PostEvent(event_id=str(uuid.uuid4()), occurred_at=timestamp_from_ms(at_ms), post_liked=liked)
        self._record(self.post_topic, author_id, event)

    def spike(
        self, tag: str, accounts: list[int], end_ms: int | None = None, over_ms: int = 30 * MINUTE_MS, lang="en"
    ) -> list[int]:
        """Each account posts its own text about #tag, spread over the `over_ms` before `end_ms` (now)."""
        end_ms = self.now if end_ms is None else end_ms
        step = over_ms // max(1, len(accounts))
        return [
            self.post(account, distinct_text(i, tag, lang), end_ms - over_ms + i * step + 1)
            for i, account in enumerate(accounts)
        ]

    def take(self) -> list[Record]:
        """The records made since the last take."""
        taken, self.records = self.records, []
        return taken


class Publisher:
    """Sends records to the topics they name (with the settings' prefix), on their partitions, acks=all."""

    def __init__(self, settings) -> None:
        from aiokafka import AIOKafkaProducer

        self._settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, records: list[Record]) -> None:
        """In order; returns once Kafka has acknowledged every one."""
        sent = [
            await self._producer.send(
                self._settings.topic(record.topic), record.value, key=record.key, partition=record.partition
            )
            for record in records
        ]
        await asyncio.gather(*sent)


async def publish(settings, records: list[Record]) -> None:
    publisher = Publisher(settings)
    await publisher.start()
    try:
        await publisher.send(records)
    finally:
        await publisher.stop()
