"""Fixtures of the end-to-end tests beyond tests/conftest.py: `backend`, one empty search index of each backend."""

from tests.search.backends import backend  # noqa: F401
from tests.search.opensearch import opensearch_url  # noqa: F401
