"""An OpenSearch node of the test session's own, for the backend tests' opensearch runs: its own data folder and free
ports, the jars `make test` fetched (CHIRP_JARS_DIR). Launched early by tests/e2e/conftest.py (tests/servers.py);
the `opensearch_url` fixture waits for it and deletes it when the session ends.

CHIRP_TEST_OPENSEARCH_URL=http://127.0.0.1:9200 uses a node already running instead (quicker while working on the
backend; the tests delete their indices after themselves either way)."""

import os
import warnings

import pytest

from services.cli.launcher import DATA_DIR, free_port
from tests.servers import BackgroundServers


def given_url() -> str:
    return os.environ.get("CHIRP_TEST_OPENSEARCH_URL", "")


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "CHIRP_DATA_DIR": str(DATA_DIR / "opensearch-tests"),
        "CHIRP_JARS_DIR": os.environ.get("CHIRP_JARS_DIR", str(DATA_DIR / "jars")),
        "CHIRP_OPENSEARCH_PORT": str(free_port()),
        "CHIRP_OPENSEARCH_TRANSPORT_PORT": str(free_port()),
        # Small: the tests' indices hold a few documents each.
        "CHIRP_OPENSEARCH_HEAP": "512m",
    }


NODE = BackgroundServers(("opensearch",), _env)


@pytest.fixture(scope="session")
def opensearch_url():
    if given_url():
        yield given_url()
        return
    failed = NODE.wait()
    if failed:
        # Once a CI run found the node gone before any test used it, and every opensearch test failed with it: boot
        # it again, once (on new ports), and say why the first one stopped.
        warnings.warn(f"the tests' own OpenSearch stopped while it booted; starting it again:\n{failed}", stacklevel=1)
        NODE.clean()
        failed = NODE.wait()
    try:
        if failed:
            pytest.fail(f"the tests' own OpenSearch did not start:\n{failed}")
        yield f"http://127.0.0.1:{NODE.env['CHIRP_OPENSEARCH_PORT']}"
    finally:
        NODE.clean()
