"""Fixtures of the end-to-end tests beyond tests/conftest.py: `backend`, one empty search index of each backend, and
the OpenSearch node the opensearch ones run on; and the servers of their own that tests boot early."""

from tests.e2e.outage_servers import SERVERS as OUTAGE_SERVERS
from tests.e2e.outage_servers import servers_env  # noqa: F401
from tests.search.backends import backend  # noqa: F401
from tests.search.opensearch import NODE as OPENSEARCH
from tests.search.opensearch import (
    given_url,
    opensearch_url,  # noqa: F401
)


def pytest_collection_finish(session):
    """Boot the session's OpenSearch node, and the outage tests' servers, in the background now if any test about to
    run will use them, so that they boot while the tests before those run."""
    if session.config.option.collectonly:
        return
    if not given_url() and any(uses_opensearch(item) for item in session.items):
        OPENSEARCH.launch()
    if any("servers_env" in item.fixturenames for item in session.items):
        OUTAGE_SERVERS.launch()


def uses_opensearch(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "opensearch_url" in item.fixturenames or bool(callspec and callspec.params.get("backend") == "opensearch")


def pytest_sessionfinish(session, exitstatus):
    # The fixtures clean up after themselves; this catches servers launched for tests that never ran (-x, ^C).
    OPENSEARCH.clean()
    OUTAGE_SERVERS.clean()
