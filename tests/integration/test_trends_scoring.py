"""Trends on real Cassandra: events with chosen times (7 days of history) applied to the trends projection, read
with an injected clock. Each test has its own accounts and terms, so all share one copy of the tables."""

import asyncio
import random
import uuid

import pytest

from bench.trends_world import GRAPH, NOW, POSTS, World, distinct_text
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.schema import migrate
from services.trends.domain import DAY_MS, GLOBAL, HOUR_MS, MINUTE_MS, Kind
from services.trends.projection import TrendsProjection
from services.trends.repository import TrendsRepository
from services.trends.service import TrendsReader


class Tables:
    def __init__(self, settings: Settings, keyspace: str) -> None:
        self.settings, self.keyspace = settings, keyspace

    def run(self, work, keyspace: str | None = None):
        async def go():
            session = await CassandraSession.connect(self.settings)
            try:
                return await work(TrendsRepository(session, keyspace or self.keyspace))
            finally:
                session.shutdown()

        return asyncio.run(go())

    def apply(self, world: World, keyspace: str | None = None, shuffle_keys: bool = False) -> None:
        records = world.take()
        if shuffle_keys:  # another order of keys and partitions, each key's own events still in order
            by_key: dict = {}
            for record in records:
                by_key.setdefault((record.topic, record.key), []).append(record)
            groups = list(by_key.values())
            random.Random(7).shuffle(groups)
            records = [record for group in groups for record in group]

        async def work(repo):
            projection = TrendsProjection(repo, POSTS, GRAPH)
            for start in range(0, len(records), 200):
                await projection.apply(records[start : start + 200])

        self.run(work, keyspace)

    def trends(self, kind=Kind.HASHTAG, scope=GLOBAL, reader: int | None = None, at: int = NOW, keyspace=None):
        async def work(repo):
            async def get():
                return repo

            reading = TrendsReader(get, clock=lambda: at, refresh_seconds=0)
            if reader is None:
                return await reading.trends(kind, scope)
            return await reading.reader_trends(kind, scope, reader)

        return self.run(work, keyspace)


@pytest.fixture(scope="module")
def tables(infrastructure) -> Tables:
    settings = Settings(keyspace_prefix=f"chirp_t{uuid.uuid4().hex[:8]}")
    asyncio.run(migrate(settings, "trends", "services.trends.schema"))
    yield Tables(settings, settings.keyspace("trends"))

    async def drop():
        session = await CassandraSession.connect(settings)
        try:
            await session.execute_raw(f"DROP KEYSPACE IF EXISTS {settings.keyspace('trends')}")
            await session.execute_raw(f"DROP KEYSPACE IF EXISTS {settings.keyspace('trends_copy')}")
        finally:
            session.shutdown()

    asyncio.run(drop())


def tag(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:6]}"


def terms(found) -> list[str]:
    return [trend.term for trend in found]


def test_a_spike_of_20_distinct_accounts_on_a_new_hashtag_trends_and_says_why(tables):
    world = World()
    new = tag("spike")
    world.spike(new, world.established(20))
    tables.apply(world)
    found = {t.term: t for t in tables.trends()}
    assert new in found
    trend = found[new]
    assert (trend.accounts, trend.posts) == (20, 20)
    assert trend.baseline_accounts == 0
    assert trend.reason.startswith("20 accounts in the last hour against a usual 0")
    assert NOW - 2 * HOUR_MS <= trend.since_ms <= NOW - 30 * MINUTE_MS
    assert len(trend.samples) == 3 and all(new in sample.text for sample in trend.samples)
    assert trend.history[0][1:] == (20, 20) and trend.history[0][0] == NOW // DAY_MS * DAY_MS
    # 30 minutes before the first post, nothing trended.
    assert new not in terms(tables.trends(at=NOW - 31 * MINUTE_MS))


def test_a_term_as_busy_as_it_always_is_at_this_hour_does_not_trend(tables):
    world = World()
    daily, rising = tag("daily"), tag("rising")
    regulars = world.established(30)
    for days in range(1, 8):
        world.spike(daily, regulars[:25], end_ms=NOW - days * DAY_MS)
        world.spike(rising, regulars[:3], end_ms=NOW - days * DAY_MS)
    world.spike(daily, regulars[:27])
    world.spike(rising, regulars)  # 3 usually, 30 now
    tables.apply(world)
    found = {t.term: t for t in tables.trends()}
    assert daily not in found
    assert rising in found
    assert found[rising].reason.startswith("30 accounts in the last hour against a usual 3 ")
    assert found[rising].baseline_weighted == pytest.approx(3.0)


def test_500_sockpuppets_posting_one_hashtag_never_reach_the_top_10_against_organic_trends(tables):
    world = World()
    organic = [tag(f"org{i}") for i in range(12)]
    for i, name in enumerate(organic):
        world.spike(name, world.established(6 + i))
    spam = tag("scam")
    puppets = world.puppets(500)
    for i, puppet in enumerate(puppets):
        world.post(puppet, f"Free money now at #{spam} {i} @friend{i % 50} !!!", NOW - 20 * MINUTE_MS + i * 1000)
    # Some puppets vary the text a little more, and some are older accounts nobody follows.
    aged = [world.account(NOW - 60 * DAY_MS, 0) for _ in range(50)]
    for i, puppet in enumerate(aged):
        world.post(puppet, distinct_text(i, spam), NOW - 10 * MINUTE_MS + i * 1000)
    tables.apply(world)
    trending = terms(tables.trends())
    assert spam not in trending  # not in the top 10, nor anywhere
    assert len([name for name in organic if name in trending]) >= 10


def test_a_deleted_post_stops_counting(tables):
    world = World()
    name = tag("deleted")
    posts = world.spike(name, world.established(4))
    created = list(world.records)
    tables.apply(world)
    assert {t.term: t.accounts for t in tables.trends()}.get(name) == 4
    world.delete(posts[0], NOW - 1000)
    tables.apply(world)
    assert {t.term: t.accounts for t in tables.trends()}.get(name) == 3
    world.delete(posts[1], NOW - 1000)
    tables.apply(world)
    assert name not in terms(tables.trends())  # 2 accounts: not enough
    # The deletion is final: the creation delivered again changes nothing.
    world.records = created
    tables.apply(world)
    assert name not in terms(tables.trends())


def test_a_readers_blocked_accounts_count_for_nothing_in_their_trends(tables):
    world = World()
    name = tag("blocked")
    accounts = world.established(20)
    world.spike(name, accounts)
    reader = world.established(1)[0]
    for other in accounts[:18]:
        world.block(reader, other, NOW - DAY_MS)
    tables.apply(world)
    assert name in terms(tables.trends())
    assert name not in terms(tables.trends(reader=reader))
    mine = {t.term: t for t in tables.trends(reader=reader)}
    # What the reader sees is otherwise the public trends.
    assert set(mine) == set(terms(tables.trends())) - {name}


def test_trends_per_language_scope(tables):
    world = World()
    calcio, matsuri, talk = tag("calcio"), tag("matsuri"), tag("talk")
    world.spike(calcio, world.established(8), lang="it")
    world.spike(matsuri, world.established(8), lang="ja")
    world.spike(talk, world.established(8), lang="en")
    tables.apply(world)
    assert {calcio, matsuri, talk} <= set(terms(tables.trends()))
    italian, japanese, english = (terms(tables.trends(scope=lang)) for lang in ("it", "ja", "en"))
    assert calcio in italian and matsuri not in italian and talk not in italian
    assert matsuri in japanese and calcio not in japanese
    assert talk in english and calcio not in english


def test_links_and_posts_trend(tables):
    world = World()
    fans = world.established(10)
    path = uuid.uuid4().hex[:8]
    for i, fan in enumerate(fans):
        world.post(fan, f"{distinct_text(i, 'x')} https://www.Example.com/{path}/?utm_source=feed{i}", NOW - i * 60_000)
    author = world.established(1)[0]
    popular = world.post(author, "A post everyone likes", NOW - 50 * MINUTE_MS)
    for fan in fans:
        world.like(fan, popular, NOW - 5 * MINUTE_MS)
    world.like(author, popular, NOW - 4 * MINUTE_MS)  # one's own like does not count
    tables.apply(world)
    assert f"https://example.com/{path}" in terms(tables.trends(Kind.LINK))
    found = {t.term: t for t in tables.trends(Kind.POST)}
    assert found[str(popular)].accounts == 10
    assert [s.post_id for s in found[str(popular)].samples] == [popular]
    world.delete(popular, NOW - 1000)
    tables.apply(world)
    assert str(popular) not in terms(tables.trends(Kind.POST))


def test_the_same_events_in_another_order_of_keys_give_the_same_trends(tables):
    asyncio.run(migrate(tables.settings, "trends_copy", "services.trends.schema"))
    copy = tables.settings.keyspace("trends_copy")
    world = World()
    names = [tag("same") for _ in range(3)]
    accounts = world.established(15)
    for days in range(0, 8):
        for i, name in enumerate(names):
            world.spike(name, accounts[: 1 + i if days else 15], end_ms=NOW - days * DAY_MS)
    records = list(world.records)
    tables.apply(world)
    world.records = records
    tables.apply(world, keyspace=copy, shuffle_keys=True)
    ours = [trend for trend in tables.trends() if trend.term in names]
    assert len(ours) == 3
    assert ours == tables.trends(keyspace=copy)
