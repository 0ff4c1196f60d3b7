"""Topics and schemas: created once, and running setup again changes nothing."""

import asyncio

from services.runtime.cassandra import CassandraSession
from services.runtime.schema import migrate, migrations_of
from services.runtime.topics import EVERY_TOPIC, ensure_topics
from tests.helpers import end_offsets


def test_a_second_setup_creates_no_topic_and_applies_no_migration(system):
    settings = system.settings
    assert asyncio.run(ensure_topics(settings)) == []
    for service in ("graph", "post", "timeline", "notification", "trends"):
        assert asyncio.run(migrate(settings, service, f"services.{service}.schema")) == []


def test_every_declared_topic_exists_with_its_partitions(system):
    for spec in EVERY_TOPIC:
        assert len(end_offsets(system.settings, system.settings.topic(spec.name))) == spec.partitions


def test_each_keyspace_records_the_migrations_it_ran(system):
    async def applied(service: str) -> list[int]:
        session = await CassandraSession.connect(system.settings)
        try:
            rows = await session.execute_raw(
                f"SELECT version FROM {system.settings.keyspace(service)}.schema_migrations"
            )
            return sorted(row.version for row in rows)
        finally:
            session.shutdown()

    for service in ("graph", "post", "timeline", "notification", "trends"):
        expected = [version for version, _, _ in migrations_of(f"services.{service}.schema")]
        assert asyncio.run(applied(service)) == expected
