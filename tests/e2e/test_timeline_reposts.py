"""Reposts in home timelines, on the real servers: at the time of the repost, once per post, held back for big
accounts like their posts, and back for a reader who returns from inactivity."""

from typer.testing import CliRunner

from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli.main import app as chirp
from services.runtime.clock import now_ms
from tests.e2e.test_timeline_hybrid import DAY_MS, rows_of, set_threshold, settled
from tests.e2e.test_timeline_rules import follow, people, write
from tests.helpers import eventually, on_reader_state, on_timeline


def repost(clients, who: int, post_id: int) -> int:
    return clients.post.RepostPost(post.RepostPostRequest(post_id=post_id, user_id=who), timeout=10).repost_id


def page(clients, reader: int, size: int = 100, token: str = ""):
    request = timeline.GetHomeTimelineRequest(user_id=reader, page_size=size, page_token=token)
    return clients.timeline.GetHomeTimeline(request, timeout=10)


def items(clients, reader: int) -> list[tuple[int, int]]:
    """(post, reposted by) of every item, newest first."""
    return [(p.post_id, p.reposted_by_id) for p in page(clients, reader).posts]


def test_the_repost_of_an_old_post_is_first_in_a_followers_home_timeline(system, clients):
    reader, author, chatty, reposter = people(clients, "reader", "author", "chatty", "repost")
    for followee in (author, chatty, reposter):
        follow(clients, reader, followee)
    old = write(clients, author, "an old post")
    newer = [write(clients, chatty, f"newer {i}") for i in range(3)]
    eventually(lambda: items(clients, reader) == [*((p, 0) for p in newer[::-1]), (old, 0)])

    repost_id = repost(clients, reposter, old)
    assert repost_id > newer[-1], "a repost's id is taken when it is made"
    eventually(lambda: items(clients, reader)[0] == (old, reposter))
    shown = page(clients, reader).posts
    assert [(p.post_id, p.reposted_by_id) for p in shown] == [(old, reposter), *((p, 0) for p in newer[::-1])]
    assert shown[0].entry_id == repost_id, "the item sits at the repost, and says so"
    assert shown[1].entry_id == newer[-1]
    assert repost(clients, reposter, old) == repost_id, "a repeated repost is the same repost"
    found = clients.post.GetRepost(post.GetRepostRequest(repost_id=repost_id), timeout=10)
    assert (found.user_id, found.post.post_id) == (reposter, old)


def test_page_tokens_stay_stable_while_reposts_arrive(system, clients):
    reader, author, reposter = people(clients, "reader", "author", "reposter")
    follow(clients, reader, author)
    follow(clients, reader, reposter)
    posts = [write(clients, author, f"post {i}") for i in range(6)]
    eventually(lambda: len(items(clients, reader)) == 6)
    first = page(clients, reader, size=3)
    assert [p.post_id for p in first.posts] == posts[:2:-1]
    repost(clients, reposter, posts[0])  # the oldest, on the page still to come
    eventually(lambda: items(clients, reader)[0] == (posts[0], reposter))
    second = page(clients, reader, size=3, token=first.next_page_token)
    # The page below the token is what it was, less the post that moved up to its newest entry (shown at the top).
    assert [p.post_id for p in second.posts] == [posts[2], posts[1]]


def test_several_reposts_show_the_post_once_at_the_latest_with_the_others_counted(system, clients):
    reader, author, fan1, fan2 = people(clients, "reader", "author", "fan1", "fan2")
    follow(clients, reader, author)
    follow(clients, reader, fan1)
    follow(clients, reader, fan2)
    original = write(clients, author, "reposted twice")
    repost(clients, fan1, original)
    second = repost(clients, fan2, original)
    eventually(lambda: items(clients, reader) == [(original, fan2)])
    [item] = page(clients, reader).posts
    assert (item.entry_id, item.other_reposter_count) == (second, 1)
    clients.post.UndoRepost(post.UndoRepostRequest(post_id=original, user_id=fan2), timeout=10)
    eventually(lambda: items(clients, reader) == [(original, fan1)])
    clients.post.UndoRepost(post.UndoRepostRequest(post_id=original, user_id=fan1), timeout=10)
    eventually(lambda: items(clients, reader) == [(original, 0)])


def test_a_big_accounts_repost_shows_without_a_home_row(system, clients):
    star, fan, other, author = people(clients, "star", "fan", "otherfan", "author")
    follow(clients, fan, star)
    follow(clients, other, star)
    original = write(clients, author, "noticed by a big account")
    set_threshold(system, 1)  # star has two followers: above it
    try:
        repost_id = repost(clients, star, original)
        settled(system)
        assert original not in rows_of(system.settings, fan), "a held-back repost is not copied to followers"
        assert on_timeline(system.settings, lambda repo: repo.held_back_entry(star, repost_id))
        assert items(clients, fan) == [(original, star)]
        assert page(clients, fan).posts[0].entry_id == repost_id
        clients.post.UndoRepost(post.UndoRepostRequest(post_id=original, user_id=star), timeout=10)
        eventually(lambda: items(clients, fan) == [])
    finally:
        set_threshold(system, system.settings.fanout_threshold)


def test_a_returning_reader_sees_a_repost_made_while_they_were_inactive(system, clients):
    reader, friend, author = people(clients, "away", "friend", "author")
    follow(clients, reader, friend)
    old = write(clients, author, "an older post by someone the reader does not follow")
    mine = write(clients, friend, "before the holiday")
    settled(system)
    on_reader_state(system.settings, lambda readers: readers.record_read(reader, now_ms() - 40 * DAY_MS))
    swept = CliRunner().invoke(chirp, ["timeline", "sweep-inactive"], env=system.env)
    assert swept.exit_code == 0, swept.output
    assert on_reader_state(system.settings, lambda readers: readers.activity(reader)).inactive

    repost(clients, friend, old)
    settled(system)
    assert old not in rows_of(system.settings, reader), "fan-out skipped the inactive reader"
    assert items(clients, reader) == [(old, friend), (mine, 0)], "the first read has the repost"
    eventually(lambda: old in rows_of(system.settings, reader), timeout=10)  # and the rebuilt rows have it too
