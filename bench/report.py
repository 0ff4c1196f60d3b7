"""Results as JSON (everything), markdown (the table people read) and PNG (latency percentiles against offered load),
with each goal of issue 6 judged met or not met from the measured figures."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the chart is a file
import matplotlib.pyplot as plt  # noqa: E402

INGEST_RATE_GOAL = 1160
# Issue 15: FollowUser calls per second (no request id), and GetUser of an account with a million followers.
FOLLOW_RATE_GOAL = 500
GET_USER_P99_GOAL_MS = 10
MIN_PROFILE_SAMPLES = 100
PERCENTILES = (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"), ("p999_ms", "p99.9"))


def _ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 3) if baseline else None


def goals(results: dict) -> list[dict]:
    """Each goal: what was measured, against which baseline, the ratio, the target, and whether it is met."""
    b = results["baselines"]
    b1, b2 = b["b1_kafka_producer"]["rate"], b["b2_grpc_echo"]["rate"]
    b3 = b["b3_cassandra_inserts"]["rows_per_second"]
    b4 = b["b4_cassandra_reads"]["p99_ms"]
    ingest = results["ingest"]
    steady = ingest["open_loop"]
    capacity = ingest["capacity"]["rate"]
    fresh = results["freshness"]["home_visible"]
    celebrity = results["freshness"]["above_threshold"]
    at_half = results["home_reads"]["at_half"]
    sustained = (
        steady["errors"] == 0
        and steady["rate"] >= 0.98 * INGEST_RATE_GOAL
        and steady["offered_rate"] >= INGEST_RATE_GOAL
    )
    return [
        *_issue_15_goals(results, b2),
        _goal(
            "ingest: rate sustained (posts/s)",
            steady["rate"],
            "B1 records/s",
            b1,
            f"{INGEST_RATE_GOAL} offered, all answered",
            sustained,
        ),
        _goal("ingest: p99 at that rate (ms)", steady["p99_ms"], None, None, "≤ 25 ms", steady["p99_ms"] <= 25),
        _goal("ingest: capacity (posts/s)", capacity, "B2 calls/s", b2, "≥ 0.6 × B2", capacity >= 0.6 * b2),
        _goal(
            "fan-out (home rows/s)",
            results["fanout"]["rows_per_second"],
            "B3 rows/s",
            b3,
            "≥ 0.8 × B3",
            results["fanout"]["rows_per_second"] >= 0.8 * b3,
        ),
        _goal("freshness p50 (ms)", fresh["p50_ms"], None, None, "≤ 50 ms", fresh["p50_ms"] <= 50 and fresh["ok"] > 0),
        _goal(
            "freshness p99 (ms)", fresh["p99_ms"], None, None, "≤ 500 ms", fresh["p99_ms"] <= 500 and fresh["ok"] > 0
        ),
        _goal(
            "freshness above threshold, max (ms)",
            celebrity["max_ms"],
            None,
            None,
            "≤ 1000 ms, none missing",
            celebrity["count"] > 0 and celebrity["errors"] == 0 and celebrity["max_ms"] <= 1000,
        ),
        _goal(
            "home reads p99 at half the highest rate (ms)",
            at_half["p99_ms"],
            "B4 p99 ms",
            b4,
            "≤ 3 × B4",
            bool(b4) and at_half["p99_ms"] <= 3 * b4,
        ),
        *(
            _goal(
                f"edge: {what} p99 added at half its highest HTTP rate (ms)",
                results["edge"][name]["added_p99_ms"],
                "gRPC p99 ms",
                results["edge"][name]["grpc_at_half"]["p99_ms"],
                "≤ 5 ms",
                results["edge"][name]["added_p99_ms"] <= 5 and results["edge"][name]["http_at_half"]["errors"] == 0,
            )
            for name, what in (("home", "home timeline"), ("post", "posting"))
        ),
        _goal(
            f"returning reader following {results['returning']['following']:,}: first page, max (ms)",
            results["returning"]["first_page"]["max_ms"],
            None,
            None,
            "≤ 200 ms (issue 15)",
            results["returning"]["first_page"]["ok"] > 0 and results["returning"]["first_page"]["max_ms"] <= 200,
        ),
        _goal(
            "rebuild (rows/s)",
            results["rebuild"]["rows_per_second"],
            "B3 rows/s",
            b3,
            "≥ 0.8 × B3",
            results["rebuild"]["rows_per_second"] >= 0.8 * b3,
        ),
        *search_goals(results),
        *trends_goals(results),
    ]


def search_goals(results: dict) -> list[dict]:
    """Issue 12's goals, when the run had its search phase."""
    found = results.get("search")
    if not found:
        return []
    build, searchable = found["index_build"], found["searchable"]["searchable"]
    queries, typeahead = found["queries_in_process"], found["typeahead_in_process"]
    # Which backend (CHIRP_SEARCH_BACKEND; runs before it had the field used tantivy).
    search = f"search ({found.get('backend', 'tantivy')})"
    return [
        _goal(
            f"{search}: index throughput through the pipeline (posts/s)",
            found["catch_up"]["post_events_per_second"],
            "raw add rate docs/s",
            build["raw_add_rate"],
            "measured against the raw add rate",
            found["catch_up"]["post_events_per_second"] > 0,
        ),
        _goal(
            f"{search}: post to searchable p99 at {found['searchable']['offered_rate']:g}/s (ms)",
            searchable["p99_ms"],
            None,
            None,
            "≤ 2000 ms, none missing",
            searchable["ok"] > 0 and searchable["errors"] == 0 and searchable["p99_ms"] <= 2000,
        ),
        _goal(
            f"{search}: query p99 on {build['posts']:,} posts (ms)",
            queries["p99_ms"],
            None,
            None,
            "≤ 50 ms on 1,000,000 posts",
            queries["p99_ms"] <= 50 and build["posts"] >= 1_000_000,
        ),
        _goal(
            f"{search}: people typeahead p99 on {typeahead['people']:,} people (ms)",
            typeahead["p99_ms"],
            None,
            None,
            "≤ 20 ms",
            typeahead["p99_ms"] <= 20,
        ),
    ]


def trends_goals(results: dict) -> list[dict]:
    """The trends goals of issue 12, when the run had a trends phase."""
    t = results.get("trends")
    if not t:
        return []
    detection = t["detection_seconds_after_20th"]
    return [
        _goal(
            "trends: spike of 20 accounts on a new hashtag detected (s after the 20th post)",
            detection if detection is not None else -1,
            None,
            None,
            "≤ 120 s",
            t["spike_detected"] and detection is not None and detection <= 120,
        ),
        _goal(
            f"trends: {t['puppets']} new sockpuppets on one hashtag, best rank reached (0: never in the top 10)",
            t["puppet_best_rank"] or 0,
            None,
            None,
            "never in the top 10",
            t["puppet_best_rank"] is None and not t["puppet_in_final_top10"],
        ),
    ]


def _issue_15_goals(results: dict, b2: float) -> list[dict]:
    """FollowUser's capacity and the big account's GetUser (absent from results written before they were measured)."""
    goals = []
    if "follows" in results:
        follows = results["follows"]["without_request_id"]
        goals.append(
            _goal(
                "FollowUser capacity, no request id (calls/s)",
                follows["rate"],
                "B2 calls/s",
                b2,
                f"≥ {FOLLOW_RATE_GOAL}/s, no errors (issue 15)",
                follows["rate"] >= FOLLOW_RATE_GOAL and follows["errors"] == 0,
            )
        )
    if "big_account" in results:
        big = results["big_account"]
        reads = big["get_user"]
        goals.append(
            _goal(
                f"GetUser of an account with {big['followers']:,} followers, p99 (ms)",
                reads["p99_ms"],
                "COUNT(*) of its edges, ms",
                big["count_star_ms"],
                f"≤ {GET_USER_P99_GOAL_MS} ms, every count exact (issue 15)",
                reads["count"] > 0 and reads["ok"] == reads["count"] and reads["p99_ms"] <= GET_USER_P99_GOAL_MS,
            )
        )
    return goals


def _goal(name: str, value: float, baseline_name: str | None, baseline: float | None, target: str, met: bool) -> dict:
    return {
        "goal": name,
        "value": value,
        "baseline": baseline_name,
        "baseline_value": baseline,
        "ratio": _ratio(value, baseline) if baseline is not None else None,
        "target": target,
        "met": bool(met),
    }


def markdown(results: dict) -> str:
    lines = [
        f"## Chirp bench, mode `{results['mode']}` ({results['workload']['users']:,} users, "
        f"{results['workload']['follows']:,} follows, fan-out threshold {results['workload']['fanout_threshold']} "
        "followers; "
        f"run took {results['seconds']:.0f} s)",
        "",
        "| Goal | Chirp | Baseline | Ratio | Target | Verdict |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for goal in results["goals"]:
        baseline = f"{goal['baseline_value']:g} ({goal['baseline']})" if goal["baseline"] else ""
        ratio = f"{goal['ratio']:.2g}×" if goal["ratio"] is not None else ""
        verdict = "met" if goal["met"] else "**not met**"
        lines.append(f"| {goal['goal']} | {goal['value']:g} | {baseline} | {ratio} | {goal['target']} | {verdict} |")
    b = results["baselines"]
    lines += [
        "",
        "| Baseline | Rate | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
        f"| B1 aiokafka acks=all idempotent, {b['sizes']['post_created_event']} B records, "
        f"{b['b1_kafka_producer']['concurrency']} in flight "
        f"| {b['b1_kafka_producer']['rate']:g}/s | {b['b1_kafka_producer']['p50_ms']} | "
        f"{b['b1_kafka_producer']['p99_ms']} |",
        f"| B2 grpc.aio echo, {b['sizes']['create_post_request']} B / {b['sizes']['create_post_response']} B, "
        f"{b['b2_grpc_echo']['concurrency']} in flight "
        f"| {b['b2_grpc_echo']['rate']:g}/s | {b['b2_grpc_echo']['p50_ms']} | {b['b2_grpc_echo']['p99_ms']} |",
        f"| B3 cassandra-driver inserts, home_timeline schema, {b['b3_cassandra_inserts']['concurrency']} in flight "
        f"| {b['b3_cassandra_inserts']['rows_per_second']:g} rows/s | | |",
        f"| B4 cassandra-driver 20-row partition reads at {b['b4_cassandra_reads']['offered_rate']:g}/s "
        f"| {b['b4_cassandra_reads']['rate']:g}/s | {b['b4_cassandra_reads']['p50_ms']} | "
        f"{b['b4_cassandra_reads']['p99_ms']} |",
        "",
        _ladder_table(
            "Home-timeline reads (open loop)", results["home_reads"]["ladder"] + [results["home_reads"]["at_half"]]
        ),
        f"Highest rate with p99 < 100 ms: **{results['home_reads']['highest_sustainable_rate']:g}/s**.",
        _page_statements(results["home_reads"].get("statements")),
        "",
        _ladder_table(
            "Mixed load: 60% home reads, 30% user-timeline reads, 10% posts (open loop)", results["mixed"]["ladder"]
        ),
        _edge_section(results["edge"]),
        _other_figures(results),
        _search_figures(results),
        _trends_figures(results.get("trends")),
        _resources_table(results["resources"]),
        "Phase durations (s): "
        + ", ".join(f"{phase} {seconds:g}" for phase, seconds in results["phase_seconds"].items())
        + ".",
        "",
        _profiles(results.get("profiles", {})),
    ]
    return "\n".join(lines) + "\n"


def _edge_section(found: dict) -> str:
    """The edge against gRPC: each HTTP ladder, both ways at half the highest rate it kept up with (alternating
    slices), and what a request of each way cost: the calls each service answered and the CPU each process used."""
    parts = [
        f"**The edge (Mastodon API over HTTP) against gRPC**, {found['people']} people signed up through the edge, "
        f"each following {found['follows_each']} of the most-followed accounts, each way with the person's own "
        "credential; the HTTP client is aiohttp in the bench process, the gRPC one grpc.aio. The edge keeps up with "
        "a rung when at most 0.1% of its requests fail, its p90 is under 500 ms and its p99 under 1 s; at half the "
        "highest such rate both ways run open loop in alternating one-second slices.",
        "",
    ]
    for name, title, twin in (
        ("home", "GET /api/v1/timelines/home", "GetHomeTimeline"),
        ("post", "POST /api/v1/statuses", "CreatePost"),
    ):
        figures = found[name]
        grpc, http = figures["grpc_at_half"], figures["http_at_half"]
        parts += [
            _ladder_table(f"{title} over HTTP (open loop)", figures["ladder"]),
            f"At half of {figures['highest_sustainable_rate']:g}/s, against {twin}:",
            "",
            "| Way | Offered/s | Done/s | Errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *(
                f"| {way} | {s['offered_rate']:g} | {s['rate']:g} | {s['errors']} | {s['p50_ms']} | {s['p90_ms']} | "
                f"{s['p99_ms']} | {s['p999_ms']} | {s['max_ms']} |"
                for way, s in (("HTTP", http), ("gRPC", grpc))
            ),
            "",
            f"The edge adds **{figures['added_p50_ms']:g} ms at p50, {figures['added_p99_ms']:g} ms at p99**.",
            "",
            _per_request_table(figures["per_request"]),
        ]
    return "\n".join(parts)


def _per_request_table(per_request: dict) -> str:
    """Calls answered and CPU milliseconds per request, HTTP against gRPC."""
    ways = ("http", "grpc")
    rpcs = sorted({key for way in ways for key in per_request[way]["rpcs"]})
    processes = list(dict.fromkeys(label for way in ways for label in per_request[way]["cpu_ms"]))
    rows = [
        "| Per request | HTTP | gRPC |",
        "| --- | ---: | ---: |",
        *(f"| {'counted' if '.token ' in key else 'calls'}: {key} | {per_request['http']['rpcs'].get(key, 0):g} | "
          f"{per_request['grpc']['rpcs'].get(key, 0):g} |" for key in rpcs),
        *(f"| CPU ms: {label} | {per_request['http']['cpu_ms'].get(label, 0):g} | "
          f"{per_request['grpc']['cpu_ms'].get(label, 0):g} |" for label in processes),
    ]  # fmt: skip
    return "\n".join(rows) + "\n"


def _page_statements(counted: dict | None) -> str:
    """What one home page asks Cassandra, cold and from memory (runs before this figure have none)."""
    if not counted:
        return ""
    cold, warm = counted["cold"], counted["from_memory"]
    return (
        f"One {cold['items']}-item home page: {cold['statements']} statements ({cold['rows_read']} rows) with nothing "
        f"in memory, {warm['statements']} ({warm['rows_read']} rows) with its posts and people in memory."
    )


def _ladder_table(title: str, steps: list[dict]) -> str:
    rows = [
        f"**{title}**",
        "",
        "| Offered/s | Done/s | Errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in steps:
        rows.append(
            f"| {s['offered_rate']:g} | {s['rate']:g} | {s['errors']} | {s['p50_ms']} | {s['p90_ms']} | "
            f"{s['p99_ms']} | {s['p999_ms']} | {s['max_ms']} |"
        )
    return "\n".join(rows) + "\n"


def _other_figures(results: dict) -> str:
    ingest, fanout, fresh, rebuild = results["ingest"], results["fanout"], results["freshness"], results["rebuild"]
    returning = results["returning"]
    rebuilt_tables = ", ".join(f"{table} {rows:,}" for table, rows in rebuild["rows"].items())
    rebuild_outcome = (
        "replayed to the end and switched" if rebuild["completed"] else "stopped at the time cap, not switched"
    )
    return "\n".join(
        [
            "**Other figures**",
            "",
            f"- Ingest capacity ({ingest['capacity']['concurrency']} callers back to back): "
            f"{ingest['capacity']['rate']:g} posts/s, "
            f"p50 {ingest['capacity']['p50_ms']} ms, p99 {ingest['capacity']['p99_ms']} ms, "
            f"{ingest['capacity']['errors']} errors.",
            f"- Ingest open loop at {ingest['open_loop']['offered_rate']:g}/s: {ingest['open_loop']['rate']:g}/s "
            "answered, "
            f"p50 {ingest['open_loop']['p50_ms']} ms, p99 {ingest['open_loop']['p99_ms']} ms, "
            f"{ingest['open_loop']['errors']} errors "
            f"{ingest['open_loop']['error_kinds'] or ''}.",
            f"- Fan-out: {fanout['backlog_events']:,} events drained in {fanout['seconds']} s after the worker started "
            f"({fanout['worker_start_seconds']} s to start), {fanout['home_rows']:,} home rows, "
            f"{fanout['events_per_second']:g} events/s.",
            f"- Freshness at {fresh['offered_rate']:g} posts/s: p50 {fresh['home_visible']['p50_ms']} ms, p99 "
            f"{fresh['home_visible']['p99_ms']} ms, "
            f"p99.9 {fresh['home_visible']['p999_ms']} ms over {fresh['home_visible']['count']} watched posts "
            f"({fresh['home_visible']['errors']} never seen); accounts above the threshold: p50 "
            f"{fresh['above_threshold']['p50_ms']} ms, "
            f"max {fresh['above_threshold']['max_ms']} ms over {fresh['above_threshold']['count']} posts; CreatePost "
            "p99 "
            f"{fresh['create_post']['p99_ms']} ms. Watches poll every {fresh['poll_interval_ms'][0]:g} ms at first, "
            f"then every tenth of the wait so far (at most {fresh['poll_interval_ms'][1]:g} ms).",
            f"- Returning readers ({returning['readers']}, each following {returning['following']:,} accounts): "
            f"first page p50 {returning['first_page']['p50_ms']} ms, max {returning['first_page']['max_ms']} ms; "
            f"rows rebuilt in {returning['rebuilt_seconds']['median']} s "
            f"(max {returning['rebuilt_seconds']['max']} s); "
            f"a page from the rows then p50 {returning['page_after_rebuild']['p50_ms']} ms.",
            *_issue_15_figures(results),
            f"- Rebuild: {rebuild['events']:,} of {rebuild['events_to_replay']:,} events replayed, "
            f"{sum(rebuild['rows'].values()):,} rows ({rebuilt_tables}) in "
            f"{rebuild['seconds']} s ({rebuild['events_per_second']:g} events/s; {rebuild_outcome}; "
            f"{rebuild['seconds_with_migrations']} s with the new version's migrations).",
            *_notification_figures(results.get("notification_groups")),
            "",
        ]
    )


def _notification_figures(groups: dict | None) -> list[str]:
    """ListNotifications of an author whose post has many likes, against one with a single like."""
    if not groups:
        return []

    def one(figures: dict) -> str:
        tombstones = figures["feed_tombstones"]
        return (
            f"p50 {figures['latency']['p50_ms']} ms, p99 {figures['latency']['p99_ms']} ms, "
            f"{figures['rows_read']:,} rows in {figures['statements']} reads "
            f"(+{tombstones if tombstones is not None else '?'} tombstones in the feed slice), "
            f"actor_count {figures['actor_count']}"
        )

    many, single = groups["many"], groups["one"]
    return [
        f"- Notifications of an author whose post was liked {many['likes']:,} times: {one(many)}; "
        f"of one whose post was liked once: {one(single)}."
    ]


def _issue_15_figures(results: dict) -> list[str]:
    lines = []
    if "follows" in results:
        follows = results["follows"]
        plain, claimed = follows["without_request_id"], follows["with_request_id"]
        lines.append(
            f"- FollowUser ({plain['concurrency']} callers back to back, projection workers held): "
            f"{plain['rate']:g} calls/s without request ids (p50 {plain['p50_ms']} ms, p99 {plain['p99_ms']} ms, "
            f"{plain['errors']} errors), {claimed['rate']:g} calls/s with one each (p50 {claimed['p50_ms']} ms, "
            f"p99 {claimed['p99_ms']} ms, {claimed['errors']} errors). The workers then projected the "
            f"{follows['backlog_events']:,} events in {follows['drain_seconds']} s "
            f"({follows['workers_start_seconds']} s to start)."
        )
    if "big_account" in results:
        big = results["big_account"]
        reads = big["get_user"]
        lines.append(
            f"- Big account: {big['followers']:,} follows imported in {big['import_seconds']} s, all counted "
            f"{big['counted_seconds']} s later ({big['build_seconds']} s in all); GetUser one call at a time: p50 "
            f"{reads['p50_ms']} ms, p99 {reads['p99_ms']} ms, max {reads['max_ms']} ms, {reads['ok']} of "
            f"{reads['count']} answers exact; COUNT(*) over its {big['count_star_rows']:,} edge rows: "
            f"{big['count_star_ms']:g} ms."
        )
    return lines


def _trends_figures(t: dict | None) -> str:
    if not t:
        return ""
    detected = (
        f"detected {t['detection_seconds_after_20th']} s after the 20th post ({t['detection_seconds_after_1st']} s "
        "after the first)"
        if t["spike_detected"]
        else "never detected"
    )
    puppets = (
        "never in the top 10" if t["puppet_best_rank"] is None else f"reached rank {t['puppet_best_rank']} at best"
    )
    return (
        f"**Trends** (a trends service of its own; events written to its topics): {t['history_events']:,} events of "
        f"7 days of history projected and {t['organic_tags']} organic trends shown in {t['history_seconds']} s; a "
        f"spike of {t['spike_accounts']} established accounts on a new hashtag over {t['spike_seconds']:g} s "
        f"{detected}, ListTrends polled every {t['poll_seconds']:g} s, rankings refreshed every "
        f"{t['refresh_seconds']:g} s; {t['puppets']} sockpuppets (two hours old, no followers, near-identical texts) "
        f"over {t['puppet_seconds']:g} s {puppets} ({t['polls']} polls); {t['organic_in_final_top10']} organic "
        "trends in the final top 10.\n"
    )


def _search_figures(results: dict) -> str:
    found = results.get("search")
    if not found:
        return ""
    build, catch_up = found["index_build"], found["catch_up"]
    queries, api = found["queries_in_process"], found["queries_api"]
    fresh = found["searchable"]
    kinds = ", ".join(f"{kind} {part['p99_ms']}" for kind, part in queries.get("by_kind", {}).items())
    return "\n".join(
        [
            f"**Search (issue 12), on {found.get('backend', 'tantivy')}**",
            "",
            f"- Catch-up: the search service, started last, indexed the run's {catch_up['post_events']:,} post events "
            f"(and every graph event) in {catch_up['seconds']} s ({catch_up.get('seconds_with_start', '?')} s with "
            f"its start): {catch_up['post_events_per_second']:g} posts/s "
            f"through Kafka, the projection and the index. The analyzer alone: {found['analyzer_posts_per_second']:g} "
            "posts/s on one core.",
            f"- Index build (from the bench process, {found.get('backend', 'tantivy')}, pre-analyzed synthetic posts): "
            f"{build['posts']:,} posts in "
            f"{build['seconds']} s ({build['add_seconds']} s adding, {build['commit_seconds']} s committing): raw add "
            f"rate {build['raw_add_rate']:g} docs/s.",
            f"- Queries on that index, one at a time: p50 {queries['p50_ms']} ms, p99 {queries['p99_ms']} ms, max "
            f"{queries['max_ms']} ms over {queries['count']}; p99 by kind (ms): {kinds}.",
            f"- Typeahead on {found['typeahead_in_process']['people']:,} people: p50 "
            f"{found['typeahead_in_process']['p50_ms']} ms, p99 {found['typeahead_in_process']['p99_ms']} ms.",
            f"- Post to searchable at {fresh['offered_rate']:g} posts/s: p50 {fresh['searchable']['p50_ms']} ms, p99 "
            f"{fresh['searchable']['p99_ms']} ms, max {fresh['searchable']['max_ms']} ms over "
            f"{fresh['searchable']['count']} watched posts ({fresh['searchable']['errors']} never found); CreatePost "
            f"p99 {fresh['create_post']['p99_ms']} ms.",
            f"- Through the gRPC API on the run's own index: SearchPosts p50 {api['posts']['p50_ms']} ms, p99 "
            f"{api['posts']['p99_ms']} ms; typeahead (SearchPeople prefix) p50 {api['typeahead']['p50_ms']} ms, p99 "
            f"{api['typeahead']['p99_ms']} ms.",
            "",
        ]
    )


def _resources_table(resources: dict) -> str:
    phases = sorted({phase for r in resources.values() for phase in r["phases"]}, key=_PHASE_ORDER.index)
    rows = [
        "**Processes: peak RSS and mean CPU per phase (% of one core; the machine has 2)**",
        "",
        "| Process | Peak RSS MB | " + " | ".join(phases) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in phases) + " |",
    ]
    for label, r in resources.items():
        cells = [str(r["phases"].get(p, {}).get("cpu_mean_pct", "")) for p in phases]
        rows.append(f"| {label} | {r['peak_rss_mb']} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


_PHASE_ORDER = [
    "setup",
    "baselines",
    "ingest",
    "fanout",
    "freshness",
    "home_reads",
    "returning",
    "mixed",
    "edge",
    "follows",
    "follow_drain",
    "rebuild",
    "notification_groups",
    "big_account",
    "search_catch_up",
    "search_index_build",
    "search_queries",
    "search_freshness",
    "search_api_reads",
    "trends",
    "teardown",
]


def _profiles(profiles: dict) -> str:
    """Where each busy process spent its CPU in each phase (`--profile`): the functions themselves, and the Chirp
    functions the time was under."""
    if not profiles:
        return ""
    rows = [
        "**CPU profiles (py-spy; processes with at least 100 samples in a phase)**",
        "",
        "| Phase | Process | Samples | Self: top functions | Under Chirp's functions |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for phase, labels in profiles.items():
        for label, summary in labels.items():
            if summary["samples"] < MIN_PROFILE_SAMPLES:
                continue
            own = "; ".join(f"`{frame}` {pct}%" for frame, pct in summary["self_pct"][:3])
            under = "; ".join(f"`{frame}` {pct}%" for frame, pct in summary["chirp_inclusive_pct"][:4])
            rows.append(f"| {phase} | {label} | {summary['samples']} | {own} | {under} |")
    return "\n".join(rows) + "\n"


def chart(results: dict, path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for axis, (title, steps) in zip(
        axes,
        (("GetHomeTimeline", results["home_reads"]["ladder"]), ("Mixed 60/30/10", results["mixed"]["ladder"])),
        strict=True,
    ):
        rates = [s["offered_rate"] for s in steps]
        for key, label in PERCENTILES:
            axis.plot(rates, [max(s[key], 0.01) for s in steps], marker="o", label=label)
        axis.axhline(100, color="grey", linestyle="--", linewidth=0.8)
        axis.set_title(f"{title}: latency from intended send time")
        axis.set_xlabel("offered load (requests/s, open loop)")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency (ms)")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def rewrite(json_path: Path) -> dict[str, Path]:
    """The markdown and the chart again from a results file (after a change to how they are presented)."""
    return write(json.loads(json_path.read_text()), json_path.parent, json_path.stem)


def write(results: dict, out_dir: Path, name: str = "latest") -> dict[str, Path]:
    results["goals"] = goals(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md", "png": out_dir / f"{name}.png"}
    paths["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    paths["md"].write_text(markdown(results))
    chart(results, paths["png"])
    return paths
