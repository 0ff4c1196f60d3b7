"""The benchmark harness runs end to end in its smallest mode and reports every section with real figures.

No timing is asserted: this checks the instrument, not the machine it runs on.
"""

import json
import subprocess
import sys

import pytest

from services.cli.launcher import REPO

pytestmark = pytest.mark.infra


# Every phase of the bench, with the notification phase's own service start and catch-up, the edge phase and the
# search and trends phases: more than the suite's 300 s per test on a loaded 2-core machine.
@pytest.mark.timeout(600)
def test_bench_smoke_reports_every_section(infrastructure, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--mode", "smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,  # a loaded 2-core machine: the run has taken 6 minutes; edge, search and trends add minutes
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "smoke.json").read_text())
    assert (tmp_path / "smoke.md").read_text().count("| ") > 20
    assert (tmp_path / "smoke.png").stat().st_size > 10_000

    workload, baselines = results["workload"], results["baselines"]
    assert workload["follows"] > 0 and workload["accounts_above_threshold"] >= 1
    assert baselines["b1_kafka_producer"]["rate"] > 0
    assert baselines["b2_grpc_echo"]["rate"] > 0
    assert baselines["b3_cassandra_inserts"]["rows_per_second"] > 0
    assert baselines["b4_cassandra_reads"]["count"] > 0 and baselines["b4_cassandra_reads"]["p99_ms"] > 0
    assert results["ingest"]["capacity"]["rate"] > 0 and results["ingest"]["open_loop"]["count"] > 0
    assert results["fanout"]["home_rows"] > 0 and results["fanout"]["rows_per_second"] > 0
    assert results["freshness"]["home_visible"]["count"] > 0 and results["freshness"]["home_visible"]["p50_ms"] > 0
    assert results["freshness"]["above_threshold"]["count"] > 0
    reads = [*results["home_reads"]["ladder"], results["home_reads"]["at_half"]]
    assert all(step["count"] > 0 for step in reads), [
        (step["offered_rate"], step["errors"], step["error_kinds"]) for step in reads
    ]
    # A smoke step has a few dozen requests drawn 60/30/10: a post among them is likely, not certain.
    assert {"home", "user"} <= set(results["mixed"]["ladder"][0]["by_kind"]) <= {"home", "user", "post"}
    returning = results["returning"]
    assert returning["first_page"]["ok"] == returning["readers"] > 0 and returning["first_page"]["p50_ms"] > 0
    assert results["rebuild"]["home_rows"] > 0 and results["rebuild"]["rows_per_second"] > 0
    groups = results["notification_groups"]
    assert groups["many"]["notifications"] == groups["one"]["notifications"] == 1
    assert groups["many"]["statements"] == groups["one"]["statements"] and groups["many"]["latency"]["count"] > 0
    follows = results["follows"]
    assert follows["without_request_id"]["ok"] > 0 and follows["with_request_id"]["ok"] > 0
    big = results["big_account"]
    assert big["get_user"]["ok"] == big["get_user"]["count"] > 0, "every GetUser answered the exact counts"
    assert big["count_star_rows"] == big["followers"] > 0
    for operation in ("home", "post"):
        compared = results["edge"][operation]
        assert compared["grpc_at_half"]["count"] > 0 and compared["http_at_half"]["count"] > 0, compared
        assert compared["http_at_half"]["errors"] == 0, compared["http_at_half"]["error_kinds"]
    assert results["trends"]["history_events"] > 0 and results["trends"]["polls"] > 0
    found = results["search"]
    assert found["catch_up"]["post_events"] > 0 and found["index_build"]["raw_add_rate"] > 0
    assert found["queries_in_process"]["count"] > 0 and found["typeahead_in_process"]["count"] > 0
    assert found["searchable"]["searchable"]["count"] > 0 and found["queries_api"]["posts"]["count"] > 0
    labels = ("kafka", "cassandra", "graph-api", "graph-worker", "post", "timeline-api", "timeline-worker", "edge")
    for process in (*labels, "search", "trends", "bench-client"):
        assert results["resources"][process]["peak_rss_mb"] > 0, process
    assert {goal["goal"] for goal in results["goals"]} and all(
        isinstance(goal["met"], bool) for goal in results["goals"]
    )
