"""The rules of trends (services/trends/domain.py): weights, near-duplicates, counting, scoring, terms."""

import math

from services.text.terms import analyze
from services.trends.domain import (
    DAY_MS,
    HOUR_MS,
    SINCE_STEP_MS,
    WINDOW_MS,
    Account,
    Use,
    account_weight,
    baseline,
    count,
    in_window,
    link_term,
    near_duplicates,
    reason,
    score,
    signature,
    trending_since,
    trends,
    weights_of,
    window_hours,
)

NOW = 1_800_000_000_000
OLD = Account(created_ms=NOW - 60 * DAY_MS, followers=50)


def sig(text: str) -> bytes:
    return signature(analyze(text).terms)


def test_new_and_little_followed_accounts_weigh_little_and_established_ones_fully():
    assert account_weight(OLD, NOW) == 1.0
    assert account_weight(Account(NOW - HOUR_MS, 50), NOW) < 0.01  # an hour old
    assert account_weight(Account(NOW - 60 * DAY_MS, 0), NOW) == 0.0  # nobody follows it
    assert 0.25 < account_weight(Account(NOW - 60 * DAY_MS, 1), NOW) < 0.35
    assert account_weight(None, NOW) == 0.0  # never seen created
    assert account_weight(Account(None, 50), NOW) == 0.0
    # Age is judged at the time of the use: an account 3.5 days old at the time counts half.
    assert account_weight(Account(NOW - int(3.5 * DAY_MS), 50), NOW) == 0.5


def test_near_duplicate_texts_are_told_from_different_ones():
    assert near_duplicates(sig("Buy #moon coin now 12345 @ana"), sig("Buy #moon coins now 999 @bob"))
    assert near_duplicates(sig("Das Wahlergebnis ist da #wahl"), sig("das wahlergebnis IST da! #Wahl"))
    assert not near_duplicates(sig("Great talks today at #conf27"), sig("Lunch queue at #conf27 is endless"))
    assert not near_duplicates(sig("#conf27 keynote was about rust"), sig("#conf27 best coffee in town"))


def test_an_account_counts_once_however_often_it_uses_the_term():
    uses = [
        Use(1, 10, NOW - 1000, sig("first thing this morning #x")),
        Use(1, 11, NOW - 900, sig("second thoughts later #x")),
        Use(2, 12, NOW, sig("other words entirely different #x")),
    ]
    counted = count(uses, {1: 1.0, 2: 1.0})
    assert (counted.accounts, counted.posts, counted.weighted) == (2, 3, 2.0)


def test_copies_of_one_text_count_logarithmically_and_blocked_accounts_not_at_all():
    texts = [f"Join the #pump now {i} @victim{i}" for i in range(500)]
    uses = [Use(100 + i, 1000 + i, NOW - i, sig(text)) for i, text in enumerate(texts)]
    weights = {100 + i: 1.0 for i in range(500)}
    counted = count(uses, weights)
    assert counted.accounts == 500
    assert len(counted.groups) <= 3
    assert counted.weighted < 1 + math.log(500) + 2
    texts = ["is #pump a real thing", "my cat sat on the #pump", "weather is awful #pump", "who invented #pump"]
    organic = [Use(i, i, NOW - i, sig(text)) for i, text in enumerate(texts)]
    assert count(organic, {i: 1.0 for i in range(4)}, excluded=frozenset({0, 1})).weighted == 2.0


def test_counting_does_not_depend_on_the_order_of_the_uses():
    uses = [Use(i % 7, i, NOW - 37 * i, sig(f"text {i % 3} {'abc'[i % 3]} #t")) for i in range(40)]
    weights = {i: 0.1 * (i + 1) for i in range(7)}
    assert count(uses, weights) == count(list(reversed(uses)), weights)


def test_a_trend_is_growth_against_the_terms_own_baseline_not_volume():
    assert trends(20.0, 0.0)
    assert score(34, 2) == round(32 / 2, 6)
    assert not trends(300.0, 280.0)  # always this busy at this hour
    assert trends(300.0, 100.0)
    assert not trends(2.5, 0.0)  # too few accounts
    assert baseline([7, 0, 0, 0, 0, 0, 0]) == 1.0


def test_windows_and_since():
    assert window_hours(NOW) == [(NOW - WINDOW_MS + 1) // HOUR_MS, NOW // HOUR_MS][: 1 + (NOW % HOUR_MS != HOUR_MS - 1)]
    uses = [Use(1, 1, NOW - WINDOW_MS), Use(1, 2, NOW - WINDOW_MS + 1), Use(1, 3, NOW)]
    assert [u.source_id for u in in_window(uses, NOW)] == [2, 3]
    assert trending_since([True], NOW) == NOW - WINDOW_MS
    assert trending_since([True, True, True, False, True], NOW) == NOW - 2 * SINCE_STEP_MS - WINDOW_MS
    w = weights_of([Use(1, 1, NOW - DAY_MS), Use(1, 2, NOW)], {1: Account(NOW - 7 * DAY_MS, 50)})
    assert w == {1: 1.0}


def test_reason_says_how_many_accounts_against_what_usual():
    counted = count(
        [Use(i, i, NOW, sig(f"w{i} about #x with {i * 'z'}")) for i in range(34)], {i: 1.0 for i in range(34)}
    )
    assert reason(counted, 2.0, 2.0).startswith("34 accounts in the last hour against a usual 2 ")
    puppets = count([Use(i, i, NOW, sig("same text #x")) for i in range(34)], {i: 1.0 for i in range(34)})
    assert "counted as" in reason(puppets, 0.0, 0.0)


def test_links_are_normalized():
    assert link_term("https://WWW.Example.com/a/b/?utm_source=x&id=3#frag") == "https://example.com/a/b?id=3"
    assert link_term("example.com") == "https://example.com"
    assert link_term("http://example.com:8080/x") == "http://example.com:8080/x"
