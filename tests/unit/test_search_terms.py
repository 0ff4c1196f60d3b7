"""The shared search analyzer (services/text/terms.py) and the query language (services/search/domain.py)."""

import pytest

from services.search.domain import Author, Language, Match, Not, Or, QueryError, parse, parse_people
from services.text.terms import analyze, detect_language, matches, query_alternatives


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le elezioni regionali si terranno a ottobre in Toscana", "it"),
        ("Выборы прошли спокойно в Москве", "ru"),
        ("Las elecciones municipales serán en mayo", "es"),
        ("Les élections municipales auront lieu en mars", "fr"),
        ("The elections in the north were closer than expected", "en"),
        ("Die Wahlen in Berlin waren knapp und spannend", "de"),
        ("As eleições municipais serão em outubro deste ano", "pt"),
        ("昨日は寿司を食べました", "ja"),
        ("ok!", "en"),  # too short to tell: the fallback
        ("🎉🎉", ""),
    ],
)
def test_language_detection_with_a_fallback_for_short_texts(text, language):
    assert detect_language(text) == language


def test_entities_are_special_terms_and_hashtags_also_give_their_words():
    analyzed = analyze("Ciao @Ada! #ElezioniEuropee a Bologna https://www.example.com/x $AAPL")
    assert "@ada" in analyzed.terms and "#elezionieuropee" in analyzed.terms
    assert {"elezion", "europe"} <= set(analyzed.terms)
    assert "url:example.com" in analyzed.terms and "$aapl" in analyzed.terms
    assert analyzed.hashtags == ("elezionieuropee",) and analyzed.mentions == ("ada",)


def test_a_hashtag_does_not_part_the_words_around_it():
    terms = analyze("Le elezioni regionali a #Bologna, ne parliamo", language="it").terms
    assert terms == ("le", "elezion", "regional", "a", "bologn", "ne", "parl", "#bologna")
    assert matches(query_alternatives("regionali a bologna"), terms, phrase=True)
    assert matches(query_alternatives("bologna ne parliamo"), terms, phrase=True)


def test_japanese_words_by_sudachi_mode_a():
    assert analyze("東京都の天気").terms == ("東京", "都", "天気")
    assert analyze("京都の天気").terms == ("京都", "天気")
    assert analyze("寿司を食べました").terms == ("寿司", "食べる")


def test_nfkc_case_and_diacritics():
    terms = analyze("ＣＡＦÉ café Café", language="fr").terms
    assert len(set(terms)) == 1 and terms[0].isascii()
    assert analyze("ёлка", language="ru").terms == analyze("елка", language="ru").terms


def test_a_muted_word_catches_its_inflections_and_nothing_else():
    muted = query_alternatives("elezione")
    assert matches(muted, analyze("Le elezioni di domenica").terms)
    assert not matches(muted, analyze("Il calcio di domenica").terms)
    assert matches(query_alternatives("gobierno"), analyze("Los gobiernos europeos firmaron").terms)
    phrase = query_alternatives("legge elettorale")
    assert matches(phrase, analyze("la legge elettorale passa").terms, phrase=True)
    assert not matches(phrase, analyze("elettorale, non la legge").terms, phrase=True)


def test_the_query_language():
    query = parse('elezione "legge elettorale" #Bologna @Ada from:giulia lang:it -calcio a OR 京都 since:2026-01-01')
    kinds = [type(clause) for clause in query.clauses]
    assert kinds == [Or, Or, Match, Match, Author, Language, Not, Or]
    assert query.clauses[2] == Match(("#bologna",)) and query.clauses[3] == Match(("@ada",))
    assert query.clauses[4] == Author("giulia") and query.clauses[5] == Language("it")
    # With lang:it every word is stemmed as Italian (and kept as it is).
    assert query.clauses[0].options[0] == Match(("elezion",))
    assert {option.terms for option in query.clauses[0].options} <= {("elezion",), ("elezione",), ("elezioni",)}
    assert query.since_ms == 1767225600000 and query.until_ms is None


@pytest.mark.parametrize(
    "query",
    [
        "OR a",
        "a OR",
        "a OR OR b",
        "since:yesterday",
        "until:2026-13-01",
        "from:not-a-handle",
        "lang:english",
        "since:2026-02-01 until:2026-01-01",
        "x" * 600,
    ],
)
def test_queries_that_do_not_parse_say_why(query):
    with pytest.raises(QueryError):
        parse(query)


def test_people_queries_take_the_last_word_as_a_prefix_for_typeahead():
    query = parse_people("network Ann", prefix=True)
    assert query.prefix == "ann" and len(query.clauses) == 1
    assert parse_people("@Zoë", prefix=True).prefix == "zoe"


def test_a_handle_typed_so_far_is_the_start_of_a_whole_handle():
    query = parse_people("@Ada_1a2b", prefix=True)
    assert query.prefix == "ada_1a2b" and query.clauses == () and query.words == ()
