"""Versioned Cassandra schema per service: each service owns one keyspace and a folder of numbered CQL files.

`NNN_description.cql` files are applied in order, once each; the keyspace's `schema_migrations` table records
which ran. Statements should be idempotent (IF NOT EXISTS) so that two replicas migrating at once do no harm.
"""

import re
from datetime import UTC, datetime
from importlib import resources

import structlog

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings

log = structlog.get_logger(__name__)

_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.cql$")


def migrations_of(package: str) -> list[tuple[int, str, list[str]]]:
    """The (version, name, statements) of a service's schema package, in version order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            text = "\n".join(line for line in entry.read_text().splitlines() if not line.strip().startswith("--"))
            statements = [part.strip() for part in text.split(";") if part.strip()]
            found.append((int(match.group(1)), match.group(2), statements))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"{package} has two migrations with the same number: {versions}")
    return found


async def migrate(settings: Settings, service: str, package: str) -> list[int]:
    """Create the service's keyspace if needed and apply its pending migrations. Returns the versions applied."""
    keyspace = settings.keyspace(service)
    rf = settings.cassandra_replication_factor
    replication = (
        f"{{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
        if rf < 2
        else f"{{'class': 'NetworkTopologyStrategy', '{settings.cassandra_local_dc}': {rf}}}"
    )
    session = await CassandraSession.connect(settings)
    try:
        await session.execute_raw(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}")
        await session.execute_raw(
            f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations "
            "(version int PRIMARY KEY, name text, applied_at timestamp)"
        )
        applied = {
            row.version for row in await session.execute_raw(f"SELECT version FROM {keyspace}.schema_migrations")
        }
        done = []
        for version, name, statements in migrations_of(package):
            if version in applied:
                continue
            for statement in statements:
                await session.execute_raw(statement.replace("{keyspace}", keyspace))
            await session.execute(
                f"INSERT INTO {keyspace}.schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC)),
            )
            done.append(version)
        log.info("schema.migrated", keyspace=keyspace, applied=done, already=sorted(applied))
        return done
    finally:
        session.shutdown()
