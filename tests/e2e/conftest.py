"""Fixtures of the end-to-end tests beyond tests/conftest.py: `backend`, one empty search index of each backend, and
the OpenSearch node the opensearch ones run on."""

from tests.search import opensearch
from tests.search.backends import backend  # noqa: F401
from tests.search.opensearch import opensearch_url  # noqa: F401


def pytest_collection_modifyitems(session, config, items):
    """Boot the session's OpenSearch node in the background now if any collected test will use it, so it starts
    while the tests before those run."""
    if any(uses_opensearch(item) for item in items):
        opensearch.launch()


def uses_opensearch(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "opensearch_url" in item.fixturenames or bool(callspec and callspec.params.get("backend") == "opensearch")


def pytest_sessionfinish(session, exitstatus):
    # The fixture cleans up after itself; this catches a node launched for tests that never ran (-x, -k, ^C).
    opensearch.clean()
