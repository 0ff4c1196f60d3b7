"""An OpenSearch node of the test session's own, for the backend tests' opensearch runs: its own data folder and free
ports, the jars `make test` fetched (CHIRP_JARS_DIR), started on the first test that needs it and deleted at the end
of the session. CHIRP_TEST_OPENSEARCH_URL=http://127.0.0.1:9200 uses a node already running instead (quicker while
working on the backend; the tests' indices are deleted after each test either way)."""

import os
import shutil

import pytest

from services.cli.launcher import DATA_DIR, free_port, infra


@pytest.fixture(scope="session")
def opensearch_url():
    given = os.environ.get("CHIRP_TEST_OPENSEARCH_URL", "")
    if given:
        yield given
        return
    port = free_port()
    data_dir = DATA_DIR / "opensearch-tests"
    env = {
        **os.environ,
        "CHIRP_DATA_DIR": str(data_dir),
        "CHIRP_JARS_DIR": os.environ.get("CHIRP_JARS_DIR", str(DATA_DIR / "jars")),
        "CHIRP_OPENSEARCH_PORT": str(port),
        "CHIRP_OPENSEARCH_TRANSPORT_PORT": str(free_port()),
        # Small: the tests' indices hold a few documents each.
        "CHIRP_OPENSEARCH_HEAP": "512m",
    }
    infra("clean", "opensearch", check=False, env=env)  # what a killed session left behind
    started = infra("start", "opensearch", check=False, env=env)
    ready = infra("wait", "opensearch", check=False, env=env) if started.returncode == 0 else started
    try:
        if ready.returncode != 0:
            output = f"{started.stdout}{started.stderr}{ready.stdout}{ready.stderr}"
            pytest.fail(f"the tests' own OpenSearch did not start:\n{output}")
        yield f"http://127.0.0.1:{port}"
    finally:
        infra("clean", "opensearch", check=False, env=env)
        shutil.rmtree(data_dir, ignore_errors=True)
