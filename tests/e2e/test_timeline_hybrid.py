"""Hybrid fan-out and inactive readers, on the real servers.

Authors above the fan-out threshold are merged into home timelines at read time; the threshold changes at run time
without losing or doubling a post for anyone. Readers marked inactive are skipped by fan-out and rebuilt on return.
"""

import re
import time

from typer.testing import CliRunner

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli.main import app as chirp
from services.runtime.clock import now_ms
from services.timeline.projection import THRESHOLD_REFRESH_SECONDS
from services.timeline.repository import TimelineRepository
from tests.e2e.test_timeline_rules import follow, people, write
from tests.helpers import caught_up, eventually, home_timeline, on_reader_state, on_timeline

DAY_MS = 86_400_000


def rows_of(settings, reader: int) -> set[int]:
    """The post ids of a home timeline's rows, without what reads merge in."""

    async def rows(repo: TimelineRepository):
        return {entry.post_id for entry in await repo.home_page(reader, 2**63 - 1, 1000)}

    return on_timeline(settings, rows)


def set_threshold(system, followers: int) -> None:
    result = CliRunner().invoke(chirp, ["timeline", "fanout-threshold", str(followers)], env=system.env)
    assert result.exit_code == 0 and f"fan-out threshold: {followers} followers" in result.output, result.output
    time.sleep(2 * THRESHOLD_REFRESH_SECONDS)  # every worker has read it


def settled(system) -> None:
    eventually(lambda: caught_up(system.settings, system.settings.consumer_group("timeline")), timeout=60, interval=0.3)


def test_posts_above_the_threshold_are_merged_at_read_time_and_a_threshold_change_moves_none(system, clients):
    star, fan, late, other, answered = people(clients, "star", "fan", "latefan", "otherfan", "answered")
    for reader in (fan, other):
        follow(clients, reader, star)
    follow(clients, other, answered)
    fanned = write(clients, star, "before the threshold falls")
    settled(system)
    assert fanned in rows_of(system.settings, fan)
    set_threshold(system, 1)  # star has two followers: above it
    try:
        held = [write(clients, star, f"above the threshold {i}") for i in range(3)]
        question = write(clients, answered, "a question")
        reply = clients.post.CreatePost(
            post.CreatePostRequest(author_id=star, text="a reply", in_reply_to_post_id=question), timeout=10
        ).post.post_id
        settled(system)
        assert not set(held) & rows_of(system.settings, fan), "held-back posts are not copied to followers"
        assert set(held) <= rows_of(system.settings, star), "an author sees their own posts at home"
        expected = [*held[::-1], fanned]
        assert home_timeline(clients, fan) == expected
        assert home_timeline(clients, other) == [reply, question, *expected], (
            "a held-back reply reaches followers of both"
        )
        explained = clients.timeline.ExplainHomeTimelineEntry(
            timeline.ExplainHomeTimelineEntryRequest(user_id=fan, post_id=held[0]), timeout=10
        )
        assert explained.shown and "fan-out threshold" in explained.reason

        # A new follower gets the recent posts copied (its backfill) and merged: each shows once.
        follow(clients, late, star)
        settled(system)
        assert home_timeline(clients, late) == expected

        # Raising the threshold again: new posts fan out, the held-back ones stay readable, none twice.
        set_threshold(system, 10_000)
        after = write(clients, star, "below the threshold again")
        settled(system)
        assert after in rows_of(system.settings, fan)
        assert home_timeline(clients, fan) == [after, *expected]

        # Held-back posts follow the follow: an unfollow takes them all away.
        clients.graph.UnfollowUser(graph.UnfollowUserRequest(follower_id=fan, followee_id=star), timeout=10)
        settled(system)
        assert home_timeline(clients, fan) == []
    finally:
        set_threshold(system, system.settings.fanout_threshold)


def test_an_inactive_reader_is_skipped_by_fan_out_and_finds_everything_on_return(system, clients):
    author, away = people(clients, "author", "away")
    follow(clients, away, author)
    before = write(clients, author, "before the holiday")
    settled(system)
    assert before in rows_of(system.settings, away)
    # The reader last read 40 days ago (longer than the default 30), the author a moment ago: the sweep marks the
    # reader, not the author. (Other tests' readers may be marked in the same sweep: the system is shared.)
    on_reader_state(system.settings, lambda readers: readers.record_read(away, now_ms() - 40 * DAY_MS))
    on_reader_state(system.settings, lambda readers: readers.record_read(author, now_ms()))
    result = CliRunner().invoke(chirp, ["timeline", "sweep-inactive"], env=system.env)
    marked = re.search(r"(\d+) users newly marked inactive", result.output)
    assert result.exit_code == 0 and marked and int(marked.group(1)) >= 1, result.output
    assert on_reader_state(system.settings, lambda readers: readers.activity(away)).inactive
    assert not on_reader_state(system.settings, lambda readers: readers.activity(author)).inactive

    during = [write(clients, author, f"while away {i}") for i in range(3)]
    settled(system)
    assert not set(during) & rows_of(system.settings, away), "fan-out skips an inactive reader"
    assert home_timeline(clients, away) == [*during[::-1], before], "the first read has what fan-out skipped"
    # Marked active again after that first page, in the background, with the rebuild.
    eventually(lambda: not on_reader_state(system.settings, lambda readers: readers.activity(away)).inactive)
    eventually(lambda: set(during) <= rows_of(system.settings, away), timeout=10)  # the rows are rebuilt too
    eventually(lambda: not on_reader_state(system.settings, lambda readers: readers.activity(away)).rebuild_pending)

    back = write(clients, author, "after the return")
    settled(system)
    assert back in rows_of(system.settings, away), "fan-out reaches a returned reader again"
