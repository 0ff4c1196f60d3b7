"""Filters of posts by words (Mastodon's filters v2) in the graph service: made, changed, listed and deleted by
their owner, each change published on the graph topic, refusals publishing nothing."""

import grpc

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from services.runtime.errors import error_reason
from tests.e2e.test_bad_input import refused
from tests.e2e.test_graph import create
from tests.e2e.test_graph_profiles_blocks import events_about

HOME, PUBLIC = graph_pb2.FILTER_CONTEXT_HOME, graph_pb2.FILTER_CONTEXT_PUBLIC


def wanted(*keywords: str, title: str = "politics", whole_word: bool = True) -> graph_pb2.Filter:
    return graph_pb2.Filter(
        title=title,
        contexts=[HOME, PUBLIC, HOME],
        action=graph_pb2.FILTER_ACTION_HIDE,
        keywords=[graph_pb2.FilterKeyword(keyword=keyword, whole_word=whole_word) for keyword in keywords],
    )


def test_a_filter_is_made_listed_changed_and_deleted_each_change_published_keyed_by_its_owner(system, clients):
    ada = create(clients, "ada")
    made = clients.graph.CreateFilter(graph.CreateFilterRequest(user_id=ada, filter=wanted(" elezione ")), timeout=10)
    made = made.filter
    assert (made.user_id, made.title, list(made.contexts)) == (ada, "politics", [HOME, PUBLIC])
    [keyword] = made.keywords
    assert keyword.keyword == "elezione" and keyword.keyword_id and keyword.whole_word
    listed = clients.graph.ListFilters(graph.ListFiltersRequest(user_id=ada), timeout=10).filters
    assert list(listed) == [made]

    change = graph_pb2.Filter()
    change.CopyFrom(made)
    change.title = "elections"
    change.keywords.add(keyword="voto", whole_word=False)
    updated = clients.graph.UpdateFilter(graph.UpdateFilterRequest(user_id=ada, filter=change), timeout=10).filter
    assert updated.title == "elections"
    assert [k.keyword_id for k in updated.keywords][0] == keyword.keyword_id
    assert [k.keyword for k in updated.keywords] == ["elezione", "voto"]
    got = clients.graph.GetFilter(graph.GetFilterRequest(user_id=ada, filter_id=made.filter_id), timeout=10)
    assert got.filter == updated

    for _ in range(2):  # idempotent
        clients.graph.DeleteFilter(graph.DeleteFilterRequest(user_id=ada, filter_id=made.filter_id), timeout=10)
    assert not clients.graph.ListFilters(graph.ListFiltersRequest(user_id=ada), timeout=10).filters
    gone = refused(clients.graph.GetFilter, graph.GetFilterRequest(user_id=ada, filter_id=made.filter_id))
    assert gone.code() == grpc.StatusCode.NOT_FOUND and error_reason(gone) == "FILTER_NOT_FOUND"

    published = [(r, e) for r, e in events_about(system, ada) if e.WhichOneof("payload").startswith("filter_")]
    assert [e.WhichOneof("payload") for _, e in published] == ["filter_created", "filter_updated", "filter_deleted"]
    assert published[0][1].filter_created.filter == made
    assert published[1][1].filter_updated.filter == updated
    assert published[2][1].filter_deleted == graph_pb2.FilterDeleted(user_id=ada, filter_id=made.filter_id)
    assert dict(published[0][0].headers)["chirp-event-type"] == b"chirp.graph.v1.FilterCreated"


def test_a_filter_breaking_a_rule_is_refused_and_publishes_nothing(system, clients):
    ada = create(clients, "ada")
    cases = [
        (wanted("elezione", title=" "), "FILTER_TITLE_MISSING"),
        (wanted(), "FILTER_KEYWORDS_INVALID"),
        (wanted("..."), "FILTER_KEYWORD_EMPTY"),
        (graph_pb2.Filter(title="t", action=graph_pb2.FILTER_ACTION_WARN, keywords=[{"keyword": "x"}]), None),
    ]
    for filter_, reason in cases:
        error = refused(clients.graph.CreateFilter, graph.CreateFilterRequest(user_id=ada, filter=filter_))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(error) == (reason or "FILTER_CONTEXT_INVALID")
    assert not [e for _, e in events_about(system, ada) if e.WhichOneof("payload").startswith("filter_")]
