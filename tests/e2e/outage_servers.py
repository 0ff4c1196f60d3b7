"""The Kafka and Cassandra of the outage tests (tests/e2e/test_timeline_outages.py): their own data folder and
ports, the jars `make test` fetched, so that stopping them disturbs no other test and no system started with
`make up`. Launched early by tests/e2e/conftest.py (tests/servers.py); `servers_env` waits for them."""

import os

import pytest

from services.cli.launcher import DATA_DIR, free_port
from tests.servers import BackgroundServers


def _env() -> dict[str, str]:
    kafka = free_port()
    return {
        **os.environ,
        "CHIRP_DATA_DIR": str(DATA_DIR / "outage-tests"),
        "CHIRP_JARS_DIR": str(DATA_DIR / "jars"),
        "CHIRP_KAFKA_PORT": str(kafka),
        "CHIRP_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CHIRP_CASSANDRA_PORT": str(free_port()),
        "CHIRP_CASSANDRA_STORAGE_PORT": str(free_port()),
        "CHIRP_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
    }


SERVERS = BackgroundServers(("kafka", "cassandra"), _env)


@pytest.fixture(scope="module")
def servers_env():
    """The environment of the outage tests' own Kafka and Cassandra, up; deleted afterwards."""
    failed = SERVERS.wait()
    try:
        if failed:
            pytest.fail(f"the outage tests' own servers did not start:\n{failed}")
        yield SERVERS.env
    finally:
        SERVERS.clean()
