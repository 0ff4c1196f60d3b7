"""Cassandra statement latencies are labelled by verb and table, without the keyspace (which changes between
projection versions and deployments), so that the label set stays small."""

from types import SimpleNamespace

from cassandra.query import BatchStatement

from services.runtime.cassandra import statement_name


def bound(query: str) -> SimpleNamespace:
    return SimpleNamespace(prepared_statement=SimpleNamespace(query_string=query))


def test_each_verb_is_named_with_the_table_it_reads_or_writes():
    assert statement_name(bound("SELECT a, b FROM chirp_timeline_v2.home_entries WHERE user_id = ?")) == (
        "SELECT home_entries"
    )
    assert statement_name(bound("insert into chirp_t1_post.posts (a) values (?)")) == "INSERT posts"
    assert statement_name(bound("UPDATE chirp_timeline.projection_versions SET version = ? WHERE service = ?")) == (
        "UPDATE projection_versions"
    )
    assert statement_name(bound("DELETE FROM chirp_graph.mutes WHERE muter_id = ?")) == "DELETE mutes"


def test_batches_and_statements_without_a_table_get_a_name_of_their_own():
    assert statement_name(BatchStatement()) == "batch"
    assert statement_name(bound("TRUNCATE chirp_graph.mutes")) == "TRUNCATE"
    assert statement_name(SimpleNamespace()) == "other"
