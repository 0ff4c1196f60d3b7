"""The relevance set shipped with the project (tests/search/relevance/*.json), against every backend: at least 50
queries in each of it, ru, es, fr, en and ja whose relevant posts use other inflections than the query, found in
the first 10 results (recall@10 >= 0.95 per language), and the precision cases (京都 is not 東京都)."""

import pytest

from tests.search.evaluate import LANGUAGES, evaluate, load, own_forms

MIN_RECALL = 0.95
MIN_QUERIES = 50


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_set_holds_50_queries_each_whose_posts_use_other_forms(language):
    content = load(language)
    assert len(content["queries"]) >= MIN_QUERIES
    assert own_forms(content) == []


async def test_recall_at_10_per_language_and_precision(backend):
    outcomes, failures = await evaluate(backend)
    recalls = {language: round(outcomes[language].recall, 3) for language in LANGUAGES}
    low = {language: (recall, outcomes[language].misses) for language, recall in recalls.items() if recall < MIN_RECALL}
    assert low == {}, f"recall@10 below {MIN_RECALL}: {low}"
    assert failures == []
