"""The Kafka and Cassandra of the outage tests (tests/e2e/test_timeline_outages.py): their own data folder and
ports, the jars `make test` fetched, so that stopping them disturbs no other test and no system started with
`make up`. `launch()` starts them in the background as soon as the session knows it will run those tests
(tests/e2e/conftest.py), so that they boot while the tests before them run; `servers_env` waits for them."""

import os

import pytest

from services.cli.launcher import DATA_DIR, free_port, infra

_env: dict[str, str] = {}
_started: list = []  # infra.sh start's result, once it ran


def servers_env_vars() -> dict[str, str]:
    """The environment of infra/infra.sh and of the services for these servers (ports picked once)."""
    if not _env:
        kafka = free_port()
        _env.update(
            {
                **os.environ,
                "CHIRP_DATA_DIR": str(DATA_DIR / "outage-tests"),
                "CHIRP_JARS_DIR": str(DATA_DIR / "jars"),
                "CHIRP_KAFKA_PORT": str(kafka),
                "CHIRP_KAFKA_CONTROLLER_PORT": str(free_port()),
                "CHIRP_CASSANDRA_PORT": str(free_port()),
                "CHIRP_CASSANDRA_STORAGE_PORT": str(free_port()),
                "CHIRP_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
            }
        )
    return _env


def launch() -> None:
    """Start the servers in the background; at most once."""
    if not _started:
        env = servers_env_vars()
        infra("clean", check=False, env=env)  # what a killed session left behind
        _started.append(infra("start", check=False, env=env))


@pytest.fixture(scope="module")
def servers_env():
    """The environment of the outage tests' own Kafka and Cassandra, up; deleted afterwards."""
    launch()
    env, started = servers_env_vars(), _started[0]
    ready = infra("wait", check=False, env=env) if started.returncode == 0 else started
    try:
        if ready.returncode != 0:
            pytest.fail(
                "the outage tests' own servers did not "
                f"start:\n{started.stdout}{started.stderr}{ready.stdout}{ready.stderr}"
            )
        yield env
    finally:
        clean()


def clean() -> None:
    """Stop the servers and delete their data, if this session started them."""
    if _started:
        infra("clean", check=False, env=servers_env_vars())
        _started.clear()
        _env.clear()
