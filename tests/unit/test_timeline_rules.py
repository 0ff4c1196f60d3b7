"""Fan-out and explanation rules of home timelines, without servers."""

from hypothesis import given
from hypothesis import strategies as st

from services.timeline.domain import (
    HomeEntry,
    explain_home_entry,
    fans_out,
    home_recipients,
    is_inactive,
    merge_home,
    newest_entries,
    post_entry,
    reply_reaches,
    repost_position,
    shown_at_home,
)


def test_a_post_goes_to_its_author_and_every_follower_once():
    assert home_recipients(1, [2, 3, 1]) == [1, 2, 3]


def test_a_reply_goes_only_to_followers_of_both_and_to_the_account_it_answers():
    assert home_recipients(1, [2, 3, 4], replied_to_id=4, followers_of_replied_to=frozenset({3})) == [1, 3, 4]
    assert reply_reaches(5, 0, False)


def test_a_muted_author_is_hidden():
    assert not shown_at_home(7, 0, {7, 8}) and shown_at_home(9, 0, {7}) and not shown_at_home(9, 8, {8})


def explain(reader=1, author=2, has_row=True, held_back=False, follows=True, muted=False, reaches=True):
    return explain_home_entry(reader, author, has_row, held_back, follows, muted, reaches)


def test_explain_names_the_first_rule_that_keeps_a_post_out():
    assert "deleted" in explain(author=None)[1]
    assert "do not follow" in explain(has_row=False, follows=False)[1]
    assert "reply" in explain(has_row=False, reaches=False)[1]
    assert explain(muted=True)[0] is False
    assert explain() == (True, "fanned out to you: you are its author or follow them")
    assert explain(author=1, follows=False)[0] is True


def test_explain_tells_a_post_merged_at_read_time():
    shown, reason = explain(has_row=False, held_back=True)
    assert shown and "fan-out threshold" in reason
    assert explain(has_row=False, held_back=True, muted=True)[0] is False
    assert explain(has_row=False, held_back=True, reaches=False)[0] is False


def test_authors_above_the_threshold_are_not_fanned_out():
    assert fans_out(10, 10) and not fans_out(11, 10) and fans_out(0, 0)


entries = st.lists(st.integers(1, 10_000), unique=True).map(
    lambda ids: [post_entry(i) for i in sorted(ids, reverse=True)]
)


@given(rows=entries, held=st.lists(entries, max_size=4), limit=st.integers(1, 50))
def test_a_merged_page_is_newest_first_each_post_once_and_rows_win(rows, held, limit):
    held = [[post_entry(e.post_id, held_back=True) for e in author] for author in held]
    page = merge_home(rows, held, limit)
    everything = {e.post_id for e in rows} | {e.post_id for author in held for e in author}
    assert [e.post_id for e in page] == sorted(everything, reverse=True)[:limit]
    row_ids = {e.post_id for e in rows}
    assert all(not e.held_back for e in page if e.post_id in row_ids)


def test_inactivity_window():
    assert is_inactive(0, 1001, 1000) and not is_inactive(0, 1000, 1000)


POST, AUTHOR, ANA, BOB = 1_000, 7, 8, 9


def test_a_post_shows_once_at_its_newest_entry_the_latest_repost():
    own, by_ana, by_bob = (
        post_entry(POST, AUTHOR),
        HomeEntry(2_000, POST, ANA, author_id=AUTHOR),
        HomeEntry(3_000, POST, BOB, author_id=AUTHOR),
    )
    reposts = {POST: [(ANA, 2_000), (BOB, 3_000)]}
    assert newest_entries([by_bob, by_ana, own], reposts, set()) == [(by_bob, 1)]
    # On a later page, without the newer entries, the older ones still give way to them.
    assert newest_entries([own], reposts, set()) == []
    assert newest_entries([by_ana], reposts, set()) == []


def test_a_muted_reposter_neither_shows_the_post_nor_hides_an_older_entry_of_it():
    own, by_ana = post_entry(POST, AUTHOR), HomeEntry(2_000, POST, ANA, author_id=AUTHOR)
    assert newest_entries([by_ana, own], {POST: [(ANA, 2_000)]}, {ANA}) == [(own, 0)]
    assert newest_entries([own], {}, {AUTHOR}) == []


def test_an_undone_repost_leaves_the_older_entry_newest():
    own = post_entry(POST, AUTHOR)
    assert newest_entries([own], {}, set()) == [(own, 0)]


def test_a_repost_sits_at_its_own_id_or_at_its_time_when_it_has_none():
    assert repost_position(12345, 0, ANA) == 12345
    derived = repost_position(0, 1_800_000_000_000, ANA)
    assert derived == repost_position(0, 1_800_000_000_000, ANA) != repost_position(0, 1_800_000_000_000, BOB)
    assert derived >> 22 == repost_position(0, 1_800_000_000_000, BOB) >> 22
