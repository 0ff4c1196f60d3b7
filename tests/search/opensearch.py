"""An OpenSearch node of the test session's own, for the backend tests' opensearch runs: its own data folder and free
ports, the jars `make test` fetched (CHIRP_JARS_DIR). `launch()` starts it in the background as soon as the session
knows it will run such a test (tests/e2e/conftest.py), so it boots while other tests run; the `opensearch_url`
fixture waits for it, and `clean()` deletes it when the session ends.

CHIRP_TEST_OPENSEARCH_URL=http://127.0.0.1:9200 uses a node already running instead (quicker while working on the
backend; the tests delete their indices after themselves either way)."""

import os
import shutil
import warnings
from pathlib import Path

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
        _env.clear()  # a node started again gets ports of its own: another process may hold the old ones now


def _ready() -> str:
    """Wait for the launched node: '' once it answers, else what went wrong, with the end of its log (which `clean`
    deletes)."""
    failed = _launched[0]
    if not failed:
        ready = infra("wait", "opensearch", check=False, env=node_env())
        if ready.returncode == 0:
            return ""
        failed = ready.stdout + ready.stderr
    log = Path(node_env()["CHIRP_DATA_DIR"]) / "logs" / "opensearch.log"
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-40:]) if log.exists() else "(no log)"
    return f"{failed}\n--- the end of {log}:\n{tail}"


@pytest.fixture(scope="session")
def opensearch_url():
    if given_url():
        yield given_url()
        return
    launch()
    failed = _ready()
    if failed:
        # Once a CI run found the node gone before any test used it, and every opensearch test failed with it: boot
        # it again, once, and say why the first one stopped.
        warnings.warn(f"the tests' own OpenSearch stopped while it booted; starting it again:\n{failed}", stacklevel=1)
        clean()
        launch()
        failed = _ready()
    try:
        if failed:
            pytest.fail(f"the tests' own OpenSearch did not start:\n{failed}")
        yield f"http://127.0.0.1:{node_env()['CHIRP_OPENSEARCH_PORT']}"
    finally:
        clean()
