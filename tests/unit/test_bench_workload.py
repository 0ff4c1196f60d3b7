"""The bench's workload has the shape issue 6 asks for, and its open-loop driver keeps to intended send times."""

import asyncio
import random
import statistics
from collections import Counter

from bench.load import open_loop
from bench.profiler import summarise
from bench.search import fitting
from bench.workload import (
    Authors,
    Texts,
    fanout_threshold,
    operation_mix,
    poisson_offsets,
    power_law_graph,
    share_of_top,
)
from services.text import analyze


def test_follower_counts_are_power_law_with_a_few_accounts_above_the_threshold():
    graph = power_law_graph(5000, 8, random.Random(1))
    followers = graph.followers()
    counts = sorted((len(f) for f in followers), reverse=True)
    assert all(follower != followee for follower, followee in graph.follows)
    assert len(set(graph.follows)) == len(graph.follows)
    assert 6 <= len(graph.follows) / graph.size <= 10
    # Heavy tail: the most followed account has hundreds of times the median, and the top 1% hold a large share.
    assert counts[0] > 100 * statistics.median(counts)
    assert sum(counts[:50]) > 0.3 * sum(counts)
    # Zipf: the tenth account has roughly a tenth of the first's followers (within a factor of three).
    assert counts[0] / 30 < counts[9] < counts[0] / 3
    threshold = fanout_threshold(followers, above=3)
    assert sum(1 for c in counts if c > threshold) == 3


def test_a_fifth_of_the_accounts_write_four_fifths_of_the_posts():
    authors = Authors(list(range(1000)), random.Random(2))
    posts = Counter(authors.draw() for _ in range(50_000))
    assert 0.77 < share_of_top(posts, 0.2, 1000) < 0.83


def test_texts_are_publishable_and_carry_mentions_hashtags_and_links():
    texts = Texts([f"u{i:06d}" for i in range(100)], random.Random(3))
    drawn = [analyze(texts.draw()) for _ in range(300)]
    assert all(a.valid for a in drawn)
    assert sum(bool(a.mentions) for a in drawn) > 50
    assert sum(bool(a.hashtags) for a in drawn) > 50
    assert sum(bool(a.urls) for a in drawn) > 30
    assert len({a.text.split(" ")[0] for a in drawn}) > 5  # several languages' samples


def test_arrivals_are_poisson_at_the_offered_rate():
    offsets = poisson_offsets(200, 50, random.Random(4))
    assert offsets == sorted(offsets) and offsets[-1] < 50
    assert 9_600 < len(offsets) < 10_400
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    # Exponential gaps: the standard deviation equals the mean.
    assert abs(statistics.stdev(gaps) / statistics.mean(gaps) - 1) < 0.05


def test_the_mix_is_sixty_thirty_ten():
    mix = Counter(operation_mix(100_000, random.Random(5)))
    assert abs(mix["home"] / 100_000 - 0.6) < 0.01
    assert abs(mix["user"] / 100_000 - 0.3) < 0.01
    assert abs(mix["post"] / 100_000 - 0.1) < 0.01


def test_latency_counts_from_the_intended_send_time_so_a_stall_cannot_hide():
    """The server answers the first request after 0.3 s and the rest at once, as a stalled server does. A closed
    loop would send the later requests only after the stall and record them as fast; the open loop sends them on
    schedule, so their latency includes the time they waited behind the stall."""
    gate = asyncio.Event()

    async def stalled_then_fast(index: int) -> None:
        if index == 0:
            await asyncio.sleep(0.3)
            gate.set()
        await gate.wait()

    offsets = [i * 0.01 for i in range(20)]  # all intended within the first 0.2 s
    latencies = asyncio.run(open_loop(offsets, stalled_then_fast))
    summary = latencies.summary()
    assert summary["count"] == 20 and summary["errors"] == 0
    assert summary["p50_ms"] >= 150  # the median request waited ~0.2 s behind the stall
    assert summary["max_ms"] >= 290


def test_open_loop_records_timeouts_as_errors_at_their_full_latency():
    async def never(index: int) -> None:
        await asyncio.sleep(10)

    summary = asyncio.run(open_loop([0.0, 0.01], never, timeout=0.1)).summary()
    assert summary["errors"] == 2 and summary["error_kinds"] == {"TimeoutError": 2}
    assert summary["p50_ms"] >= 100


def test_profiles_summarise_where_the_cpu_goes_leaving_out_waiting():
    collapsed = "\n".join(
        [
            "main (a.py:1);create_post (services/post/service.py:5);encode (b.py:9) 30",
            "main (a.py:1);create_post (services/post/service.py:5) 10",
            "main (a.py:1);EpollSelector.select (selectors.py:468) 60",
        ]
    )
    summary = summarise(collapsed)
    assert summary["samples"] == 40
    assert summary["self_pct"][0] == ["encode (b.py:9)", 75.0]
    assert summary["chirp_inclusive_pct"] == [["create_post (services/post/service.py:5)", 100.0]]


def test_a_searchable_phase_post_is_cut_to_fit_by_weight_not_by_characters():
    text = "word " * 24 + "https://example.com/123456"
    assert not analyze(text[:140]).valid  # the link cut short still weighs 23: 143
    fitted = fitting(text)
    assert analyze(fitted).valid and fitted == text[:119]
