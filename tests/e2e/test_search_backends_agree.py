"""Both backends rank alike: every query of the relevance set (tests/search/relevance/), by relevance and by latest,
gets the same first 10 posts in the same order from tantivy and from OpenSearch, on the same documents."""

import uuid

import pytest

from services.runtime.config import Settings
from services.search.backends import PostSearch, Sort, backend_for
from services.search.domain import parse
from tests.search.backends import BACKEND_NAMES, NOW_MS
from tests.search.evaluate import index_all, sets

pytestmark = pytest.mark.skipif(
    not {"tantivy", "opensearch"} <= set(BACKEND_NAMES), reason="needs both backends (CHIRP_TEST_SEARCH_BACKENDS)"
)


async def test_the_relevance_set_gets_the_same_top_10_in_the_same_order_from_both(tmp_path, opensearch_url):
    tantivy = backend_for(Settings(search_backend="tantivy", search_index_dir=str(tmp_path)), 1)
    opensearch = backend_for(
        Settings(
            search_backend="opensearch", opensearch_url=opensearch_url, keyspace_prefix=f"t{uuid.uuid4().hex[:10]}"
        ),
        1,
    )
    await tantivy.open()
    await opensearch.open()
    try:
        data = sets()
        await index_all(tantivy, data)
        await index_all(opensearch, data)
        differ = []
        for content in data.values():
            for query in content["queries"]:
                for order in (Sort.RELEVANCE, Sort.LATEST):
                    search = PostSearch(parse(query["query"]), sort=order, limit=10, now_ms=NOW_MS)
                    first = [hit.post_id for hit in (await tantivy.search_posts(search)).hits]
                    second = [hit.post_id for hit in (await opensearch.search_posts(search)).hits]
                    if first != second:
                        differ.append((query["query"], order.value, first, second))
        assert differ == []
    finally:
        await opensearch.drop()
        await opensearch.close()
        await tantivy.close()
