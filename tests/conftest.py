"""Fixtures shared by the integration and end-to-end tests: real Kafka, real Cassandra, real service processes."""

import pytest
from hypothesis import settings

from services.cli.launcher import infra, running_system

# Property tests check rules, not speed: no per-example deadline, so a busy machine cannot fail them.
settings.register_profile("chirp", deadline=None)
settings.load_profile("chirp")


@pytest.fixture(scope="session")
def infrastructure():
    """Kafka and Cassandra up; stopped afterwards only if this session started them."""
    already_up = infra("status", check=False).returncode == 0
    if not already_up:
        started = infra("start", check=False)
        ready = infra("wait", check=False) if started.returncode == 0 else started
        if ready.returncode != 0:
            pytest.fail(f"infrastructure did not start:\n{started.stdout}{started.stderr}{ready.stdout}{ready.stderr}")
    yield
    if not already_up:
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
