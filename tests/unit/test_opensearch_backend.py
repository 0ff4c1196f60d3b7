"""The OpenSearch backend without a cluster: the query bodies it sends for the query tree (the ranking rules both
backends share), and an unreachable cluster counted as an outage. What it finds on a real node is checked by
tests/e2e/test_search_backends.py and test_search_backends_agree.py."""

import math

from services.cli.launcher import free_port
from services.runtime.config import Settings
from services.runtime.outages import is_infrastructure_error
from services.search.backends import PeopleSearch, PostSearch, Sort
from services.search.backends.opensearch_backend import (
    MAX_RESULT_WINDOW,
    OpenSearchBackend,
    OpenSearchUnavailable,
    clause_query,
    hashtags_body,
    index_names,
    people_body,
    posts_body,
)
from services.search.domain import Author, Match, Or, parse, parse_people


def test_indices_are_per_version_and_lower_case():
    assert index_names("Chirp_T1", 2) == ("chirp_t1_search_v2_posts", "chirp_t1_search_v2_people")


def test_relevance_multiplies_bm25_by_one_plus_the_halving_recency():
    body = posts_body(PostSearch(parse("elezione"), now_ms=1_000_000, half_life_ms=3_600_000, limit=5, offset=10))
    score = body["query"]["function_score"]
    assert score["score_mode"] == "sum" and score["boost_mode"] == "multiply"
    weight, decay = score["functions"]
    assert weight == {"weight": 1.0}
    assert decay["exp"]["time"] == {"origin": 1_000_000, "scale": 3_600_000, "decay": 0.5}
    assert body["sort"] == [{"_score": "desc"}, {"post_id": "desc"}] and body["track_scores"]
    assert (body["from"], body["size"]) == (10, 5)


def test_without_now_every_post_gets_the_same_boost():
    functions = posts_body(PostSearch(parse("elezione")))["query"]["function_score"]["functions"]
    assert functions == [{"weight": 1.0}, {"weight": 1.0}]


def test_latest_pages_by_search_after_without_scores():
    body = posts_body(PostSearch(parse("news"), sort=Sort.LATEST, before=(1234, 99), limit=3))
    assert body["sort"] == [{"time": "desc"}, {"post_id": "desc"}]
    assert body["search_after"] == [1234, 99] and "function_score" not in body["query"]


def test_a_page_past_the_result_window_is_asked_for_nothing():
    assert posts_body(PostSearch(parse("tea"), offset=MAX_RESULT_WINDOW, limit=20))["size"] == 0
    assert posts_body(PostSearch(parse("tea"), offset=MAX_RESULT_WINDOW - 5, limit=20))["size"] == 5


def test_clauses_filters_and_exclusions():
    assert clause_query(Match(("elezion",))) == {"term": {"terms": "elezion"}}
    phrase = clause_query(Match(("legg", "elettoral"), phrase=True))
    assert phrase == {"match_phrase": {"terms": {"query": "legg elettoral", "analyzer": "chirp_terms"}}}
    # from: and lang: select without scoring, as in tantivy.
    assert clause_query(Author("ada")) == {"constant_score": {"filter": {"term": {"author": "ada"}}, "boost": 0.0}}
    either = clause_query(Or((Match(("a",)), Author("bob"))))
    assert either["bool"]["minimum_should_match"] == 1 and len(either["bool"]["should"]) == 2
    query = posts_body(PostSearch(parse("rain -snow since:2026-05-01"), exclude_authors=frozenset({3, 1})))
    bool_query = query["query"]["function_score"]["query"]["bool"]
    assert {"terms": {"author_id": [1, 3]}} in bool_query["must_not"]
    assert bool_query["filter"] == [{"range": {"time": {"gte": 1_777_593_600_000}}}]


def test_people_weighted_by_log2_of_two_plus_followers():
    body = people_body(PeopleSearch(parse_people("Ann", prefix=True), exclude_users=frozenset({7})))
    function = body["query"]["function_score"]["functions"][0]
    assert function["field_value_factor"]["modifier"] == "ln2p"
    assert math.isclose(function["weight"] * math.log(2 + 900), math.log2(2 + 900))
    assert people_body(PeopleSearch(parse_people(""))) is None


def test_hashtag_prefixes_are_literal_in_the_regular_expression():
    terms = hashtags_body("c++_x", 5)["aggs"]["tags"]["terms"]
    assert terms["include"] == "c\\+\\+\\_x.*"
    assert terms["order"] == [{"_count": "desc"}, {"_key": "asc"}]


async def test_an_unreachable_cluster_is_an_outage_not_a_bad_event():
    settings = Settings(opensearch_url=f"http://127.0.0.1:{free_port()}", opensearch_timeout_seconds=2)
    backend = OpenSearchBackend(settings, 1)
    try:
        await backend.open()
    except OpenSearchUnavailable as error:
        assert is_infrastructure_error(error)
    else:
        raise AssertionError("open() on a closed port succeeded")
