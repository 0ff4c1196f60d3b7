"""An OpenSearch node of the test session's own, for the backend tests' opensearch runs: its own data folder and free
ports, the jars `make test` fetched (CHIRP_JARS_DIR). `launch()` starts it in the background as soon as the session
knows it will run such a test (tests/e2e/conftest.py), so it boots while other tests run; the `opensearch_url`
fixture waits for it, and `clean()` deletes it when the session ends.

CHIRP_TEST_OPENSEARCH_URL=http://127.0.0.1:9200 uses a node already running instead (quicker while working on the
backend; the tests delete their indices after themselves either way)."""

import os
import shutil

import pytest

from services.cli.launcher import DATA_DIR, free_port, infra

_env: dict[str, str] = {}
_launched: list[str] = []  # the output of `infra.sh start`, once it ran


def given_url() -> str:
    return os.environ.get("CHIRP_TEST_OPENSEARCH_URL", "")


def node_env() -> dict[str, str]:
    """The environment of infra/infra.sh for this session's node (ports picked once)."""
    if not _env:
        _env.update(
            {
                **os.environ,
                "CHIRP_DATA_DIR": str(DATA_DIR / "opensearch-tests"),
                "CHIRP_JARS_DIR": os.environ.get("CHIRP_JARS_DIR", str(DATA_DIR / "jars")),
                "CHIRP_OPENSEARCH_PORT": str(free_port()),
                "CHIRP_OPENSEARCH_TRANSPORT_PORT": str(free_port()),
                # Small: the tests' indices hold a few documents each.
                "CHIRP_OPENSEARCH_HEAP": "512m",
            }
        )
    return _env


def launch() -> None:
    """Start the node in the background (infra.sh start returns once the JVM is launched); at most once."""
    if given_url() or _launched:
        return
    env = node_env()
    infra("clean", "opensearch", check=False, env=env)  # what a killed session left behind
    started = infra("start", "opensearch", check=False, env=env)
    _launched.append(started.stdout + started.stderr if started.returncode else "")


def clean() -> None:
    """Stop the node and delete its data, if this session started one."""
    if _launched:
        infra("clean", "opensearch", check=False, env=node_env())
        shutil.rmtree(node_env()["CHIRP_DATA_DIR"], ignore_errors=True)
        _launched.clear()


@pytest.fixture(scope="session")
def opensearch_url():
    if given_url():
        yield given_url()
        return
    launch()
    failed = _launched[0]
    if not failed:
        ready = infra("wait", "opensearch", check=False, env=node_env())
        if ready.returncode != 0:
            failed = ready.stdout + ready.stderr
    try:
        if failed:
            pytest.fail(f"the tests' own OpenSearch did not start:\n{failed}")
        yield f"http://127.0.0.1:{node_env()['CHIRP_OPENSEARCH_PORT']}"
    finally:
        clean()
