"""A fan-out's rows written as unlogged batches (CassandraSession.execute_rows), on real Cassandra: every row
lands whole, whatever the number of readers, across batch boundaries and within one partition."""

import asyncio

import pytest

from services.runtime.cassandra import BATCH_ROWS, CassandraSession
from services.runtime.schema import migrate
from services.timeline.domain import HomeEntry, Provenance, post_entry
from services.timeline.repository import TimelineRepository

AT = 1_800_000_000_000_000  # µs
SOURCE = Provenance("chirp.post.events.v1", 4, 1234)


@pytest.fixture(scope="module")
def keyspace(system) -> str:
    asyncio.run(migrate(system.settings, "fan_out_batches", "services.timeline.schema"))
    return system.settings.keyspace("fan_out_batches")


def with_repo(settings, keyspace, work):
    async def run():
        session = await CassandraSession.connect(settings)
        try:
            return await work(TimelineRepository(session, keyspace))
        finally:
            session.shutdown()

    return asyncio.run(run())


def test_every_reader_of_a_fan_out_larger_than_several_batches_gets_the_whole_row(system, keyspace):
    readers = list(range(10_000, 10_000 + 3 * BATCH_ROWS + 7))
    entry = post_entry(9_000_001, author_id=42)

    async def work(repo: TimelineRepository):
        await repo.add_to_homes(readers, entry, AT, SOURCE)
        return await asyncio.gather(*(repo.home_entry(reader, entry.position) for reader in readers))

    found = with_repo(system.settings, keyspace, work)
    assert found == [(HomeEntry(entry.position, entry.post_id, author_id=42), SOURCE)] * len(readers)


def test_a_backfill_of_more_entries_than_a_batch_holds_reaches_one_reader_in_order(system, keyspace):
    reader = 20_000
    entries = [post_entry(9_100_000 + n, author_id=7) for n in range(BATCH_ROWS + 13)]
    repost = HomeEntry(9_200_000, entries[0].post_id, reposted_by=8, author_id=7)

    async def work(repo: TimelineRepository):
        await repo.add_entries_to_home(reader, [*entries, repost], AT, SOURCE)
        page = await repo.home_page(reader, 2**63 - 1, 1_000)
        return page, await repo.home_reposts_of(reader, [entries[0].post_id])

    page, reposts = with_repo(system.settings, keyspace, work)
    assert page == sorted([*entries, repost], key=lambda e: e.position, reverse=True)
    assert reposts == {entries[0].post_id: [(8, repost.position)]}


def test_a_repost_fan_out_writes_the_entry_and_its_note_for_every_reader(system, keyspace):
    readers = list(range(30_000, 30_000 + BATCH_ROWS + 1))
    repost = HomeEntry(9_300_000, 9_000_002, reposted_by=5, author_id=6)

    async def work(repo: TimelineRepository):
        await repo.add_repost_to_homes(readers, repost, AT, SOURCE)
        notes = await asyncio.gather(*(repo.home_reposts_of(reader, [repost.post_id]) for reader in readers))
        pages = await asyncio.gather(*(repo.home_page(reader, 2**63 - 1, 10) for reader in readers))
        return notes, pages

    notes, pages = with_repo(system.settings, keyspace, work)
    assert notes == [{repost.post_id: [(5, repost.position)]}] * len(readers)
    assert pages == [[repost]] * len(readers)
