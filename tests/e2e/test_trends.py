"""Trends through the running services: events with chosen times published on the topics (accounts a year old,
follows, a spike, blocks), read over gRPC and with `chirp trends`; a deletion stops counting within a minute; a
rebuild by replay (`chirp projections rebuild trends`) gives the same tables and the same trends."""

import asyncio
import json
import re
import time
import uuid

import grpc
from cassandra.query import SimpleStatement
from typer.testing import CliRunner

from bench.trends_world import World, distinct_text, publish
from chirp.trends.v1 import trends_pb2
from chirp.trends.v1 import trends_service_pb2 as pb
from services.cli.main import app as chirp
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import now_ms
from services.runtime.projection.versions import keyspace_of
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.trends.domain import GLOBAL, MINUTE_MS, Kind
from services.trends.repository import TrendsRepository
from services.trends.service import TrendsReader
from tests.helpers import caught_up, eventually

TAGS = trends_pb2.TREND_KIND_HASHTAG


def world_now() -> World:
    return World(POST_EVENTS.name, GRAPH_EVENTS.name, now=now_ms())


def published(system, world: World) -> None:
    asyncio.run(publish(system.settings, world.take()))
    eventually(lambda: caught_up(system.settings, system.settings.consumer_group("trends")), timeout=60, interval=0.5)


def tag_terms(clients, **request) -> list[str]:
    try:
        found = clients.trends.ListTrends(pb.ListTrendsRequest(kind=TAGS, page_size=20, **request), timeout=10)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:  # the worker restarting on a rebuilt version
            raise
        return []
    return [trend.term for trend in found.trends]


def test_a_spike_trends_a_readers_blocks_count_for_nothing_and_a_deletion_stops_counting(system, clients):
    world = world_now()
    spike, other = f"spike{uuid.uuid4().hex[:6]}", f"other{uuid.uuid4().hex[:6]}"
    accounts = world.established(20)
    posts = world.spike(spike, accounts)
    world.spike(other, world.established(6))
    reader = world.established(1)[0]
    for account in accounts[:18]:
        world.block(reader, account, world.now - 1000)
    published(system, world)

    eventually(lambda: spike in tag_terms(clients), timeout=30, interval=1)
    result = CliRunner().invoke(chirp, ["trends", "--json"], env=system.env)
    assert result.exit_code == 0, result.output
    shown = {item["term"]: item for item in json.loads(result.output)}
    assert shown[spike]["accounts"] == 20
    assert shown[spike]["reason"].startswith("20 accounts in the last hour against a usual 0")
    assert len(shown[spike]["samples"]) == 3
    # Per day (UTC): the spike is spread over the last 30 minutes, so just after midnight part of it is yesterday's.
    assert sum(day["accounts"] for day in shown[spike]["history"][:2]) == 20

    mine = clients.trends.ListReaderTrends(pb.ListReaderTrendsRequest(user_id=reader, kind=TAGS), timeout=10)
    assert other in [t.term for t in mine.trends] and spike not in [t.term for t in mine.trends]

    # Deleting 18 of the 20 posts leaves 2 accounts: the spike stops trending within a minute.
    for post_id in posts[:18]:
        world.delete(post_id, now_ms())
    deleted_at = time.monotonic()
    asyncio.run(publish(system.settings, world.take()))
    eventually(lambda: spike not in tag_terms(clients), timeout=60, interval=1)
    assert time.monotonic() - deleted_at < 60


def test_a_readers_hide_filter_leaves_out_the_trends_holding_any_inflection_of_its_word(system, clients):
    world = world_now()
    digits = str(uuid.uuid4().int)[:6]
    muted, kept = f"elezioni{digits}", f"other{digits}"  # the tag's words: elezioni, and the digits
    world.spike(muted, world.established(8))
    world.spike(kept, world.established(8))
    reader = world.established(1)[0]
    world.hide_word(reader, "Elezione", world.now - 1000)
    published(system, world)

    eventually(lambda: {muted, kept} <= set(tag_terms(clients)), timeout=30, interval=1)
    mine = clients.trends.ListReaderTrends(pb.ListReaderTrendsRequest(user_id=reader, kind=TAGS), timeout=10)
    assert kept in [t.term for t in mine.trends] and muted not in [t.term for t in mine.trends]


def test_a_rebuilt_projection_has_the_same_tables_and_the_same_trends(system, clients):
    settings = system.settings
    world = world_now()
    for lang, stem in (("en", "rebuild"), ("it", "ricostruire"), ("ja", "saiken")):
        world.spike(f"{stem}{uuid.uuid4().hex[:6]}", world.established(8), lang=lang, end_ms=world.now - MINUTE_MS)
    fan = world.established(1)[0]
    liked = world.post(fan, "a post people like https://example.org/a?utm_medium=x", world.now - 20 * MINUTE_MS)
    for account in world.established(6):
        world.like(account, liked, world.now - 10 * MINUTE_MS)
    # A link that 8 accounts share in English, each with words of its own and tracking parameters of its own.
    for i, account in enumerate(world.established(8)):
        text = f"{distinct_text(100 + i, 'worthreading')} https://example.org/read?utm_source=s{i}"
        world.post(account, text, world.now - (30 - i) * MINUTE_MS)
    published(system, world)
    old = settings.keyspace("trends")

    result = CliRunner().invoke(chirp, ["projections", "rebuild", "trends"], env=system.env)
    assert result.exit_code == 0, result.output
    version = int(re.search(r"rebuilt as version (\d+)", result.output).group(1))
    new = keyspace_of(settings, "trends", version)
    assert new != old
    for table, columns in TABLES.items():
        assert rows_of(settings, new, table, columns) == rows_of(settings, old, table, columns), table
    at = world.now
    for kind in Kind:
        for scope in (GLOBAL, "en", "it", "ja"):
            before, after = trends_at(settings, old, kind, scope, at), trends_at(settings, new, kind, scope, at)
            assert before == after, (kind, scope)
            # Every kind trends in all languages and in English (the link, the liked post); hashtags in every scope.
            assert after or (kind, scope) in (
                (Kind.POST, "it"),
                (Kind.POST, "ja"),
                (Kind.LINK, "it"),
                (Kind.LINK, "ja"),
            )
    # The rebuilt version serves, and new events reach it.
    world.now = now_ms()
    late = f"late{uuid.uuid4().hex[:6]}"
    world.spike(late, world.established(8), over_ms=MINUTE_MS)
    asyncio.run(publish(settings, world.take()))
    eventually(lambda: late in tag_terms(clients), timeout=90, interval=1)
    assert rows_of(settings, new, "posts", "post_id") != rows_of(settings, old, "posts", "post_id")


# Every table, with the columns compared (write times where a row is written by one event only).
TABLES = {
    "uses": "scope, hour, kind, term, account_id, source_id, at, signature, writetime(at) AS written",
    "term_days": "scope, kind, term, day, account_id, source_id",
    "posts": "post_id, author_id, text, language, create_time, terms, writetime(text) AS written",
    "reactions": "post_id, user_id, source_id, at, language, writetime(at) AS written",
    "accounts": "user_id, handle, create_time, writetime(handle) AS written",
    "followers": "user_id, follower_id",
    "hidden": "user_id, other_id, relation",
}


def rows_of(settings, keyspace: str, table: str, columns: str) -> list[tuple]:
    """Every row of a table, through the service's own session (which waits out a busy Cassandra at connect) and
    the driver's synchronous paging."""

    async def read():
        session = await CassandraSession.connect(settings)
        try:
            statement = SimpleStatement(f"SELECT {columns} FROM {keyspace}.{table}", fetch_size=5000)
            rows = await asyncio.to_thread(lambda: list(session._session.execute(statement, timeout=120)))
            return sorted(tuple(row) for row in rows)
        finally:
            session.shutdown()

    return asyncio.run(read())


def trends_at(settings, keyspace: str, kind: Kind, scope: str, at: int):
    async def read():
        session = await CassandraSession.connect(settings)
        try:
            repo = TrendsRepository(session, keyspace)

            async def get():
                return repo

            return await TrendsReader(get, clock=lambda: at, refresh_seconds=0).trends(kind, scope)
        finally:
            session.shutdown()

    return asyncio.run(read())
