"""Fixtures shared by the integration and end-to-end tests: real Kafka, real Cassandra, real service processes."""

import subprocess

import pytest
from hypothesis import settings

from services.cli.launcher import infra, running_system

# Property tests check rules, not speed: no per-example deadline, so a busy machine cannot fail them.
settings.register_profile("chirp", deadline=None)
settings.load_profile("chirp")


# `infra.sh start`'s result when this session started Kafka and Cassandra; None when they were up already.
_started: list[subprocess.CompletedProcess | None] = []


def launch_servers() -> None:
    """Start Kafka and Cassandra in the background unless they run (infra.sh start returns once the JVMs are
    launched); at most once."""
    if not _started:
        _started.append(None if infra("status", check=False).returncode == 0 else infra("start", check=False))


def pytest_collection_finish(session):
    """Boot the servers now if any test about to run needs them, so that they boot while the unit tests run (they
    run first: testpaths in pyproject.toml)."""
    if not session.config.option.collectonly and any("infrastructure" in item.fixturenames for item in session.items):
        launch_servers()


@pytest.fixture(scope="session")
def infrastructure():
    """Kafka and Cassandra up; stopped afterwards only if this session started them."""
    launch_servers()
    started = _started[0]
    if started is not None:
        ready = infra("wait", check=False) if started.returncode == 0 else started
        if ready.returncode != 0:
            pytest.fail(f"infrastructure did not start:\n{started.stdout}{started.stderr}{ready.stdout}{ready.stderr}")
    yield
    if started is not None:
        infra("stop", check=False)


@pytest.fixture(scope="session")
def system(infrastructure):
    """All four services, on this session's own topics, keyspaces and ports."""
    with running_system() as chirp:
        yield chirp


@pytest.fixture
def clients(system):
    """The gRPC clients of whichever `system` the test runs against (a module may bring its own)."""
    return system.clients


@pytest.fixture(scope="session")
def edge(system):
    """The HTTP edge (Mastodon's client API) in front of `system`: its base URL."""
    if "edge" not in system.processes:
        system.start("edge")
    return system.edge_url
