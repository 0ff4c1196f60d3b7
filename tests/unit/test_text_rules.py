"""Chirp's text rules (services.text): properties that hold for any text, and examples in several scripts.

tests/unit/test_text_oracle.py checks the same functions against the official twitter-text, text by text.
"""

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from services.cli.text_command import app as text_app
from services.runtime.errors import InvalidArgument
from services.text import (
    MAX_BIO_BYTES,
    MAX_BIO_LENGTH,
    MAX_NOTIFIED_MENTIONS,
    MAX_POST_BYTES,
    Analysis,
    Entity,
    Profile,
    analyze,
    check_characters,
    forbidden_character,
    notified_mentions,
    validate_bio,
    validate_post,
)

PROFILES = list(Profile)
SIGILS = {"mentions": "@＠", "hashtags": "#＃", "cashtags": "$", "urls": ""}
WHITESPACE = " \t\n\r\u000b\u000c\u0085\u00a0\u1680\u2000\u2001\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
INVALID = "\ufffe\ufeff\uffff"

mixed = st.lists(
    st.one_of(
        st.sampled_from("abcXYZ019_ @#$＠＃.:/-éèñüß\u0301\u0308日本語中文한국어あア😷🇮\u200d\ufe0f\n"),
        st.sampled_from(["example.com", "http://", "https://", "t.co/x", "müller.de", "RT ", "/list", "AAPL", "👍🏽"]),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
).map("".join)
anything = st.one_of(st.text(max_size=80), mixed)


def entities_of(analysis: Analysis) -> list[tuple[str, Entity]]:
    return [(kind, entity) for kind in SIGILS for entity in getattr(analysis, kind)]


# ---------------------------------------------------------------------------------------------------------------
# Properties


@given(anything, st.sampled_from(PROFILES))
def test_weighted_length_is_never_negative(text, profile):
    assert analyze(text, profile).weighted_length >= 0


@given(anything, st.sampled_from(PROFILES))
def test_analysis_is_of_the_nfc_text_and_nfc_input_changes_nothing(text, profile):
    analysis = analyze(text, profile)
    assert analysis.text == unicodedata.normalize("NFC", text)
    assert analyze(analysis.text, profile) == analysis


domains = st.builds(
    lambda labels, tld: ".".join(labels) + "." + tld,
    st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12), min_size=1, max_size=3),
    st.sampled_from(["com", "org", "net", "it", "de", "fr", "jp", "co.uk", "io", "dev", "рф"]),
)
urls = st.builds(
    lambda scheme, domain, path: scheme + domain + path,
    st.sampled_from(["", "http://", "https://"]),
    domains,
    st.one_of(st.just(""), st.text(alphabet="abcXYZ0123456789/_-=", max_size=60).map(lambda p: "/" + p + "x")),
)
plain_words = st.text(alphabet="abc xyz ÀÉÎ ñ ß 日本 한국 ありがとう Привет مرحبا שלום", max_size=40)


@given(plain_words, urls, plain_words, st.sampled_from(PROFILES))
def test_a_url_counts_23_whatever_its_length(before, url, after, profile):
    text = f"{before} {url} {after}"
    analysis = analyze(text, profile)
    assert [entity.value for entity in analysis.urls] == [url]
    assert analysis.weighted_length == analyze(f"{before}  {after}", profile).weighted_length + 23


@given(anything, st.sampled_from(INVALID), st.data(), st.sampled_from(PROFILES))
def test_a_noncharacter_or_bom_makes_any_text_invalid(text, invalid, data, profile):
    at = data.draw(st.integers(0, len(text)))
    text = text[:at] + invalid + text[at:]
    assert not analyze(text, profile).valid
    if len(text.encode("utf-8", "surrogatepass")) <= MAX_POST_BYTES:
        with pytest.raises(InvalidArgument) as refused:
            validate_post(text, profile)
        assert refused.value.reason in {"TEXT_INVALID_CHARACTER", "TEXT_TOO_LARGE"}
        if refused.value.reason == "TEXT_INVALID_CHARACTER":
            assert "U+" in refused.value.message


@given(st.text(alphabet=WHITESPACE + "\u200b\u200d\u2060\u3164", max_size=40), st.sampled_from(PROFILES))
def test_a_post_of_whitespace_only_is_refused_as_empty(text, profile):
    with pytest.raises(InvalidArgument) as refused:
        validate_post(text, profile)
    assert refused.value.reason == "TEXT_EMPTY"


@given(st.lists(urls, min_size=1, max_size=5), st.integers(0, 3000), st.sampled_from(PROFILES))
def test_more_than_4_kib_of_utf8_is_refused_even_when_urls_keep_it_short(prefixes, padding, profile):
    text = " ".join(f"https://{url.split('://')[-1].split('/')[0]}/{'p' * padding}" for url in prefixes)
    size = len(text.encode("utf-8"))
    if size > MAX_POST_BYTES:
        with pytest.raises(InvalidArgument) as refused:
            validate_post(text, profile)
        assert refused.value.reason == "TEXT_TOO_LARGE"
        assert str(MAX_POST_BYTES) in refused.value.message
    else:
        assert validate_post(text, profile).weighted_length <= profile.max_length


@given(anything, st.sampled_from(PROFILES))
def test_validate_post_refuses_exactly_what_breaks_a_rule(text, profile):
    normalized = unicodedata.normalize("NFC", text)
    size = max(len(text.encode("utf-8", "surrogatepass")), len(normalized.encode("utf-8", "surrogatepass")))
    try:
        analysis = validate_post(text, profile)
    except InvalidArgument as refused:
        assert refused.reason in {"TEXT_TOO_LARGE", "TEXT_EMPTY", "TEXT_INVALID_CHARACTER", "TEXT_TOO_LONG"}
        if refused.reason == "TEXT_TOO_LONG":
            assert analyze(text, profile).weighted_length > profile.max_length
    else:
        assert size <= MAX_POST_BYTES
        assert analysis.valid and analysis == analyze(text, profile)


@given(anything, st.sampled_from(PROFILES))
def test_entity_spans_slice_the_text_to_sigil_and_value(text, profile):
    analysis = analyze(text, profile)
    for kind, entity in entities_of(analysis):
        written = analysis.text[entity.start : entity.end]
        if kind == "urls":
            assert written == entity.value
        else:
            assert written[0] in SIGILS[kind] and written[1:] == entity.value


@given(anything, st.sampled_from(PROFILES))
def test_entities_never_overlap(text, profile):
    spans = sorted((entity.start, entity.end) for _, entity in entities_of(analyze(text, profile)))
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start


@given(st.text(alphabet="日本語中文漢字한국어あいうアイウ", min_size=1, max_size=200))
def test_cjk_counts_1_in_classic_and_2_in_weighted(text):
    assert analyze(text, Profile.CLASSIC).weighted_length == len(text)
    assert analyze(text, Profile.WEIGHTED).weighted_length == 2 * len(text)


@given(st.lists(st.sampled_from(["😷", "👍🏽", "👨‍👩‍👧‍👦", "🇮🇹", "❤️", "🏳️‍🌈", "1️⃣"]), min_size=1, max_size=50))
def test_an_emoji_counts_its_code_points_in_classic_and_2_in_weighted(emoji):
    text = "".join(emoji)
    assert analyze(text, Profile.CLASSIC).weighted_length == len(text)
    assert analyze(text, Profile.WEIGHTED).weighted_length == 2 * len(emoji)


@given(st.text(alphabet="abcdefghij klmnopqrstuvwxyz ÀÉÎàéî", max_size=300))
def test_latin_counts_the_same_in_both_profiles(text):
    assert (
        analyze(text, Profile.CLASSIC).weighted_length == analyze(text, Profile.WEIGHTED).weighted_length == len(text)
    )


@given(st.text(alphabet="abc 日本", max_size=200), st.sampled_from(PROFILES))
def test_valid_means_between_1_and_the_limit(text, profile):
    analysis = analyze(text, profile)
    assert analysis.valid == (1 <= analysis.weighted_length <= profile.max_length)


# ---------------------------------------------------------------------------------------------------------------
# Examples


def spans(entities: list[Entity]) -> list[tuple[str, int, int]]:
    return [(entity.value, entity.start, entity.end) for entity in entities]


def test_italian():
    analysis = analyze("Ciao @marco! Guarda #Roma su https://roma.it e compra $ENEL.MI 🇮🇹")
    assert spans(analysis.mentions) == [("marco", 5, 11)]
    assert spans(analysis.hashtags) == [("Roma", 20, 25)]
    assert spans(analysis.urls) == [("https://roma.it", 29, 44)]
    assert spans(analysis.cashtags) == [("ENEL.MI", 54, 62)]
    assert analysis.weighted_length == 63 - 15 + 23 + 2  # the URL counts 23, the flag 2 code points
    # Latin letters weigh 1 in the weighted profile too, and so does the flag: one emoji, 2 units
    assert (
        analyze("Ciao @marco! Guarda #Roma su https://roma.it e compra $ENEL.MI 🇮🇹", Profile.WEIGHTED).weighted_length
        == 73
    )


def test_russian():
    analysis = analyze("Привет @ivan и @иван! #Россия #москва2024 пример.рф")
    assert spans(analysis.mentions) == [("ivan", 7, 12)]  # handles are ASCII: @иван is no mention
    assert spans(analysis.hashtags) == [("Россия", 22, 29), ("москва2024", 30, 41)]
    assert spans(analysis.urls) == []  # without a scheme, only ASCII domains are links
    assert spans(analyze("см. https://пример.рф/путь").urls) == [("https://пример.рф/путь", 4, 26)]


def test_spanish():
    analysis = analyze("¡Hola @maría y @Maria_99! #España #niño ñandú.es $SAN")
    assert spans(analysis.mentions) == [("Maria_99", 15, 24)]  # @mar followed by í (a Latin letter) is no mention
    assert spans(analysis.hashtags) == [("España", 26, 33), ("niño", 34, 39)]
    assert spans(analysis.urls) == [("ñandú.es", 40, 48)]
    assert spans(analysis.cashtags) == [("SAN", 49, 53)]


def test_french_with_decomposed_accents_is_analysed_in_nfc():
    text = "Noe\u0308l a\u0300 l'e\u0301te\u0301 #Noe\u0308l @e\u0301lise"
    analysis = analyze(text)
    assert analysis.text == "Noël à l'été #Noël @élise"
    assert spans(analysis.hashtags) == [("Noël", 13, 18)]
    assert spans(analysis.mentions) == []
    assert analysis.weighted_length == len("Noël à l'été #Noël @élise")


def test_japanese_and_full_width_sigils():
    text = "今日は＠tanaka さん＃東京 さん ＃東京 と #大阪 https://例え.jp/テスト"
    analysis = analyze(text)
    assert spans(analysis.mentions) == [("tanaka", 3, 10)]  # after a kana: only ASCII letters and digits glue
    # a hashtag must not follow a letter of any script (さん＃東京); ＃ is as good as #
    assert spans(analysis.hashtags) == [("東京", 20, 23), ("大阪", 26, 29)]
    # the path takes Latin and Cyrillic letters only: テスト is text after the URL
    assert spans(analysis.urls) == [("https://例え.jp/", 30, 44)]
    assert analysis.weighted_length == 47 - 14 + 23
    assert (
        analyze(text, Profile.WEIGHTED).weighted_length == 2 * 20 + 13 + 23
    )  # 20 kana, kanji and full-width, 13 ASCII


def test_arabic():
    analysis = analyze("مرحبا @ahmed #مصر #٢٠٢٤ example.eg")
    assert spans(analysis.mentions) == [("ahmed", 6, 12)]
    assert spans(analysis.hashtags) == [("مصر", 13, 17)]  # digits alone are no hashtag
    assert spans(analysis.urls) == [("example.eg", 24, 34)]


def test_thai_with_combining_marks():
    analysis = analyze("สวัสดี #กรุงเทพ @somchai")
    assert spans(analysis.hashtags) == [("กรุงเทพ", 7, 15)]
    assert spans(analysis.mentions) == [("somchai", 16, 24)]
    assert analysis.weighted_length == 24
    assert analyze("สวัสดี #กรุงเทพ @somchai", Profile.WEIGHTED).weighted_length == 24  # Thai is below U+1100: 1 each


def test_emoji_with_zwj_sequences_and_skin_tones():
    family, coder, flag = "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈"
    text = f"{family} {coder} {flag} 👍🏿"
    assert analyze(text).weighted_length == len(text) == 7 + 1 + 4 + 1 + 4 + 1 + 2
    assert analyze(text, Profile.WEIGHTED).weighted_length == 4 * 2 + 3
    assert spans(analyze("😷@bob").mentions) == [("bob", 1, 5)]  # code points: twitter-text (UTF-16) says 2..6


def test_classic_limit_and_message():
    assert validate_post("a" * 140).weighted_length == 140
    with pytest.raises(InvalidArgument) as refused:
        validate_post("a" * 141)
    assert refused.value.reason == "TEXT_TOO_LONG"
    assert refused.value.message == "a post can be at most 140 characters; this one has 141"


def test_weighted_limit_and_message():
    assert validate_post("日" * 140, Profile.WEIGHTED).weighted_length == 280
    with pytest.raises(InvalidArgument) as refused:
        validate_post("日" * 140 + "a", Profile.WEIGHTED)
    assert refused.value.message == "a post can be at most 280 characters; this one has 281"


def test_urls_let_a_post_be_longer_than_its_count_but_not_over_4_kib():
    long_url = "https://example.com/" + "x" * 1000
    assert validate_post(f"{long_url} {long_url}").weighted_length == 47
    with pytest.raises(InvalidArgument) as refused:
        validate_post(" ".join([long_url] * 5))
    assert refused.value.reason == "TEXT_TOO_LARGE"
    assert refused.value.message == "a post can be at most 4096 bytes of UTF-8; this one has 5104"


def test_invalid_characters_are_named():
    for char in INVALID:
        with pytest.raises(InvalidArgument) as refused:
            validate_post(f"hello{char}")
        assert refused.value.reason == "TEXT_INVALID_CHARACTER"
        assert f"U+{ord(char):04X}" in refused.value.message
    with pytest.raises(InvalidArgument) as refused:
        validate_post("lone \ud800 surrogate")
    assert refused.value.reason == "TEXT_INVALID_CHARACTER"


CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r"]
BIDI_FORMATTING = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize(
    ("char", "named"),
    [("\0", "U+0000 (NULL, a control character)"), ("\x1b", "U+001B (a control character)")]
    + [("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"), ("\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)")],
)
def test_nul_other_controls_and_bidi_overrides_are_refused_in_posts_and_bios_naming_the_character(char, named):
    with pytest.raises(InvalidArgument) as refused:
        validate_post(f"look {char}here")
    assert refused.value.reason == "TEXT_INVALID_CHARACTER"
    assert refused.value.message == f"a post cannot contain the character {named}"
    with pytest.raises(InvalidArgument) as refused:
        validate_bio(f"bio{char}")
    assert refused.value.reason == "BIO_INVALID_CHARACTER"
    assert named in refused.value.message


@given(anything, st.sampled_from(CONTROLS + list(BIDI_FORMATTING)), st.data())
def test_any_text_with_a_forbidden_character_is_refused(text, char, data):
    at = data.draw(st.integers(0, len(text)))
    text = text[:at] + char + text[at:]
    assert forbidden_character(text) is not None
    with pytest.raises(InvalidArgument) as refused:
        check_characters(text, "X", "a text")
    assert "U+" in refused.value.message


def test_tabs_line_breaks_and_the_bidi_marks_right_to_left_writers_need_are_accepted():
    text = "שלום\u200f @ana\tعربي\u061c\r\nok\u200e"
    assert forbidden_character(text) is None
    assert validate_post(text).text == text
    assert validate_bio(text) == text


def test_a_bio_is_bounded_in_bytes_whatever_its_urls_count():
    url = "https://example.com/" + "a" * 4000
    assert analyze(url).weighted_length == 23
    with pytest.raises(InvalidArgument) as refused:
        validate_bio(url)
    assert refused.value.reason == "BIO_TOO_LONG"
    assert refused.value.message == f"a bio can be at most {MAX_BIO_BYTES} bytes of UTF-8; this one has 4020"
    assert validate_bio("😷" * MAX_BIO_LENGTH)  # the longest characters, as many as a bio may have
    assert validate_bio("https://example.com/" + "a" * 500)


def test_empty_and_blank_posts_are_refused():
    for text in ["", " ", "\n\t", "\u3000", "\u200b\u200d"]:
        with pytest.raises(InvalidArgument) as refused:
            validate_post(text)
        assert refused.value.reason == "TEXT_EMPTY"
    assert not analyze("").valid
    assert analyze(" ").valid  # twitter-text counts a space; the blank rule is Chirp's


def test_mentions_lists_and_the_notified_users():
    analysis = analyze("@ana @ANA @Ana @bob/friends @carl RT@dave me@example.com @" + "x" * 21)
    assert [entity.value for entity in analysis.mentions] == ["ana", "ANA", "Ana", "carl", "dave", "x" * 20]
    assert [entity.value for entity in notified_mentions(analysis)] == ["ana", "carl", "dave", "x" * 20]
    many = analyze(" ".join(f"@user{i}" for i in range(15)))
    assert [entity.value for entity in notified_mentions(many)] == [f"user{i}" for i in range(MAX_NOTIFIED_MENTIONS)]
    assert len(notified_mentions(many, limit=3)) == 3


def test_overlapping_entities_keep_the_first_and_urls_win():
    analysis = analyze("see http://example.com/#tag?x=@user and #tag")
    assert spans(analysis.urls) == [("http://example.com/#tag?x=@user", 4, 35)]
    assert spans(analysis.hashtags) == [("tag", 40, 44)]
    assert analysis.mentions == []


def test_cashtags():
    analysis = analyze("$AAPL $brk.a $ab_cd $TOOLONG x$NO $1 ($MSFT)")
    assert [entity.value for entity in analysis.cashtags] == ["AAPL", "brk.a", "ab_cd"]
    assert [entity.value for entity in analyze("($MSFT)").cashtags] == []  # a $ must follow a space or the start


def test_as_json():
    assert analyze("hi @bob").as_json() == {
        "weighted_length": 7,
        "valid": True,
        "mentions": [{"value": "bob", "start": 3, "end": 7}],
        "hashtags": [],
        "urls": [],
        "cashtags": [],
    }


def test_bio():
    assert validate_bio("") == ""
    assert validate_bio("Caf\u00e9 lover e\u0301") == "Café lover é"
    assert validate_bio("a" * MAX_BIO_LENGTH) == "a" * MAX_BIO_LENGTH
    with pytest.raises(InvalidArgument) as refused:
        validate_bio("a" * (MAX_BIO_LENGTH + 1))
    assert refused.value.reason == "BIO_TOO_LONG"
    assert refused.value.message == "a bio can be at most 160 characters; this one has 161"
    with pytest.raises(InvalidArgument) as refused:
        validate_bio("日" * 81, Profile.WEIGHTED)
    assert refused.value.reason == "BIO_TOO_LONG"
    with pytest.raises(InvalidArgument) as refused:
        validate_bio("bio\ufeff")
    assert refused.value.reason == "BIO_INVALID_CHARACTER"


# ---------------------------------------------------------------------------------------------------------------
# chirp text analyze


def test_cli_with_json_input_analyzes_json_strings_and_reports_bad_lines_by_number():
    lines = ['"hi @bob #tag"', "42", '"日本語 😷"', "not json", '"x.com"']
    arguments = ["analyze", "--profile", "weighted", "--input", "json"]
    result = CliRunner().invoke(text_app, arguments, input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert outputs == [analyze(json.loads(lines[i]), Profile.WEIGHTED).as_json() for i in (0, 2, 4)]
    assert "line 2" in result.stderr and "line 4" in result.stderr
    assert "--input plain" in result.stderr


def test_cli_reads_plain_lines_by_default_and_json_strings_where_a_line_is_one():
    lines = ["Ciao @ada #Bologna https://example.com", '"two\\nlines"', "42 is not a string"]
    result = CliRunner().invoke(text_app, ["analyze"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert outputs == [analyze(text).as_json() for text in (lines[0], "two\nlines", lines[2])]


def test_cli_with_plain_input_takes_every_line_as_it_is():
    result = CliRunner().invoke(text_app, ["analyze", "--input", "plain"], input='"quoted"\n')
    assert result.exit_code == 0
    assert json.loads(result.stdout) == analyze('"quoted"').as_json()


def test_cli_default_profile_is_classic_and_output_is_not_ascii_escaped():
    result = CliRunner().invoke(text_app, ["analyze"], input='"#東京 " \n')
    assert result.exit_code == 0
    assert json.loads(result.stdout) == analyze("#東京 ").as_json()
    assert '"東京"' in result.stdout
