"""Mute words match as search does: every inflection of the keyword, in the post's language; whole words or also
inside longer words; a phrase as adjacent words; expired filters and other contexts apply no more."""

import pytest

from chirp.graph.v1 import graph_pb2
from services.text.filters import CONTEXTS, hiding, in_force, keyword_matches, matching
from services.text.terms import analyze


@pytest.mark.parametrize(
    ("keyword", "whole_word", "text", "expected"),
    [
        ("elezione", True, "Domani ci sono le elezioni regionali", True),
        ("Elezioni", True, "Una elezione combattuta", True),
        ("elezione", True, "La rielezione del sindaco", False),
        ("elezione", False, "La rielezione del sindaco", True),
        ("Wahl", True, "Die Wahlen in Berlin sind morgen", True),
        ("выборы", True, "Сегодня прошли выборов в городе", True),
        ("gobierno", True, "Los gobiernos de Europa", True),
        ("vote", True, "I voted today", True),
        ("cats and dogs", True, "raining cats and dogs all day", True),
        ("cats dogs", True, "raining cats and dogs all day", False),
        ("東京", True, "東京都に行きました", True),
        ("京都", True, "東京都に行きました", False),
        ("elezione", True, "Vota! #ElezioniEuropee", True),
        ("pizza", True, "Domani ci sono le elezioni", False),
    ],
)
def test_a_keyword_matches_every_inflection_of_its_word_and_nothing_else(keyword, whole_word, text, expected):
    assert keyword_matches(keyword, whole_word, analyze(text).terms) is expected


def keyworded(*words: str, action=graph_pb2.FILTER_ACTION_HIDE, contexts=("home",), expire_ms: int = 0):
    made = graph_pb2.Filter(
        filter_id=1,
        title="t",
        contexts=[CONTEXTS[name] for name in contexts],
        action=action,
        keywords=[graph_pb2.FilterKeyword(keyword=word, whole_word=True) for word in words],
    )
    if expire_ms:
        made.expire_time.FromMilliseconds(expire_ms)
    return made


def test_only_filters_of_the_context_that_have_not_expired_are_in_force():
    now = 1_000_000
    current, expired, elsewhere = keyworded("a"), keyworded("b", expire_ms=now), keyworded("c", contexts=("public",))
    later = keyworded("d", expire_ms=now + 1)
    assert in_force([current, expired, elsewhere, later], CONTEXTS["home"], now) == [current, later]
    warn = keyworded("e", action=graph_pb2.FILTER_ACTION_WARN)
    assert hiding([current, warn], CONTEXTS["home"], now) == [current]


def test_a_match_names_the_filter_and_the_keywords_it_matched():
    politics, cats = keyworded("elezione", "voto", "sindaco"), keyworded("gatto", action=graph_pb2.FILTER_ACTION_WARN)
    [match] = matching([politics, cats], "Il sindaco parla delle elezioni")
    assert match.filter is politics and match.keywords == ("elezione", "sindaco") and match.hides
    [warned] = matching([politics, cats], "Due gatti sul tetto")
    assert warned.filter is cats and not warned.hides
    assert matching([politics, cats], "niente") == []
