"""The search service end to end on OpenSearch, as `make up SEARCH=opensearch` runs it: tests of test_search.py run
again, unchanged, on a system of this module's own whose search service has CHIRP_SEARCH_BACKEND=opensearch and the
session's OpenSearch node (tests/search/opensearch.py). The ones chosen exercise what differs by backend: indexing
through the projection, deletions, an opt-out (a delete by query), people, hashtag counts, and a rebuild into a new
version's indices."""

import os

import pytest

from services.cli.launcher import running_system
from tests.e2e import test_search as on_tantivy
from tests.e2e.test_search import world  # noqa: F401

# Collected again here, on this module's `system`, in test_search.py's order: the first one waits for the projection
# to warm up (its first assignment, the language model and the Japanese dictionary), the others do not.
test_posts_are_found_by_other_inflections_and_operators_within_seconds = (
    on_tantivy.test_posts_are_found_by_other_inflections_and_operators_within_seconds
)
test_deleted_posts_leave_the_index = on_tantivy.test_deleted_posts_leave_the_index
test_an_account_that_opts_out_leaves_the_index_within_seconds_and_can_come_back = (
    on_tantivy.test_an_account_that_opts_out_leaves_the_index_within_seconds_and_can_come_back
)
test_people_rank_by_relevance_and_followers_with_typeahead = (
    on_tantivy.test_people_rank_by_relevance_and_followers_with_typeahead
)
test_hashtags_by_prefix_with_usage_counts = on_tantivy.test_hashtags_by_prefix_with_usage_counts
test_a_rebuild_by_replay_finds_the_same_and_serves_new_posts = (
    on_tantivy.test_a_rebuild_by_replay_finds_the_same_and_serves_new_posts
)


@pytest.fixture(scope="module")
def system(infrastructure, opensearch_url):
    """The services search needs, the search service on OpenSearch; its indices are deleted with its keyspaces."""
    env = {**os.environ, "CHIRP_SEARCH_BACKEND": "opensearch", "CHIRP_OPENSEARCH_URL": opensearch_url}
    with running_system(env, services=("identity", "graph", "post", "search")) as chirp:
        yield chirp
