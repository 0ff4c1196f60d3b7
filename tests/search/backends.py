"""The `backend` fixture of the backend tests: one empty index per test, of each backend named in
CHIRP_TEST_SEARCH_BACKENDS (comma-separated; default "tantivy,opensearch"). The opensearch runs use a node of the
session's own (tests/search/opensearch.py), started on first use; each test gets its own indices through a unique
CHIRP_KEYSPACE_PREFIX, and they are deleted after it."""

import os
import uuid

import pytest

from services.runtime.config import Settings
from services.search.backends import PersonDocument, PostDocument, backend_for
from services.text.terms import analyze, prefix_words

BACKEND_NAMES = [
    name.strip() for name in os.environ.get("CHIRP_TEST_SEARCH_BACKENDS", "tantivy,opensearch").split(",") if name
]

# 2026-06-01T00:00:00Z: the "now" of every backend test.
NOW_MS = 1_780_272_000_000
HOUR_MS = 3600 * 1000


@pytest.fixture(params=BACKEND_NAMES)
async def backend(request, tmp_path):
    extra = {}
    if request.param == "opensearch":
        extra["opensearch_url"] = request.getfixturevalue("opensearch_url")
    settings = Settings(
        search_backend=request.param,
        search_index_dir=str(tmp_path / "search"),
        keyspace_prefix=f"t{uuid.uuid4().hex[:10]}",
        **extra,
    )
    opened = backend_for(settings, 1)
    await opened.open()
    try:
        yield opened
    finally:
        if request.param == "opensearch":
            await opened.drop()
        await opened.close()


def post(post_id: int, text: str, author_id: int = 1, handle: str = "ada", age_hours: float = 1.0, **extra):
    analyzed = analyze(text)
    return PostDocument(
        post_id=post_id,
        author_id=author_id,
        author_handle=handle.lower(),
        text=text,
        terms=analyzed.text,
        language=analyzed.language,
        hashtags=analyzed.hashtags,
        create_time_ms=int(NOW_MS - age_hours * HOUR_MS),
        **extra,
    )


def person(user_id: int, handle: str, name: str, bio: str = "", followers: int = 0) -> PersonDocument:
    return PersonDocument(
        user_id=user_id,
        handle=handle,
        display_name=name,
        bio=bio,
        terms=" ".join((*analyze(handle).terms, *analyze(name).terms, *analyze(bio).terms)),
        names=(handle.lower(), *prefix_words(name)),
        follower_count=followers,
        create_time_ms=NOW_MS - 1000 * HOUR_MS,
    )
