"""Fan-out and explanation rules of home timelines, without servers."""

from services.timeline.domain import after_repost_undone, explain_home_entry, home_recipients, reply_reaches, shown_at_home


def test_a_post_goes_to_its_author_and_every_follower_once():
    assert home_recipients(1, [2, 3, 1]) == [1, 2, 3]


def test_a_reply_goes_only_to_followers_of_both_and_to_the_account_it_answers():
    assert home_recipients(1, [2, 3, 4], replied_to_id=4, followers_of_replied_to=frozenset({3})) == [1, 3, 4]
    assert reply_reaches(5, 0, False)


def test_a_muted_author_is_hidden():
    assert not shown_at_home(7, 0, {7, 8}) and shown_at_home(9, 0, {7}) and not shown_at_home(9, 8, {8})


def test_explain_names_the_first_rule_that_keeps_a_post_out():
    assert "deleted" in explain_home_entry(1, None, True, True, False, True)[1]
    assert "do not follow" in explain_home_entry(1, 2, False, False, False, True)[1]
    assert "reply" in explain_home_entry(1, 2, False, True, False, False)[1]
    assert explain_home_entry(1, 2, True, True, True, True)[0] is False
    assert explain_home_entry(1, 2, True, True, False, True)[0] is True
    assert explain_home_entry(1, 1, True, False, False, True)[0] is True


def test_an_undone_repost_leaves_the_post_only_where_something_else_brings_it():
    assert after_repost_undone(1, 2, [3], follows_author=False) == "reposted"
    assert after_repost_undone(1, 2, [], follows_author=True) == "own"
    assert after_repost_undone(2, 2, [], follows_author=False) == "own"
    assert after_repost_undone(1, 2, [], follows_author=False) == "gone"
