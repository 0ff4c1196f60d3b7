"""Chirp's text rules against the official twitter-text (JS 3.1.0, pinned in tests/oracle), text by text.

tests/oracle/analyze.js runs twitter-text on a batch of texts in one node process; this module compares what it says
with services.text on curated texts in many scripts and on texts hypothesis builds from mixed alphabets: weighted
length and validity in both profiles (twitter-text's version1 and version3 configurations), every extractor on its
own (mentions, mentions-or-lists, hashtags, URLs, cashtags), and the entities left once overlaps are removed
(extractEntitiesWithIndices), which are what Analysis reports. twitter-text's UTF-16 offsets are converted to code
points. The oracle is installed with `npm ci` when tests/oracle/node_modules is missing; without node and npm on
PATH the module is skipped (both are on developer machines and in CI).

Known, documented disagreements are in DISAGREEMENTS below, each checked to still be one, and one oddity of
twitter-text's URL values is in test_a_url_without_scheme_is_its_text_not_twitter_texts_value.
"""

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.text import Profile, analyze
from services.text.emoji import twemoji_sequences
from services.text.entities import (
    extract_cashtags,
    extract_hashtags,
    extract_mentions,
    extract_mentions_or_lists,
    url_entities,
)

ORACLE = Path(__file__).resolve().parents[1] / "oracle"

COMPARED = {"texts": 0}  # texts compared with the oracle in this session


def _install_oracle() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the twitter-text oracle needs {' and '.join(missing)} on PATH")
    if not (ORACLE / "node_modules" / "twitter-text" / "package.json").exists():
        subprocess.run(
            ["npm", "ci", "--prefix", str(ORACLE), "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def oracle():
    _install_oracle()
    return run_oracle


def run_oracle(texts: list[str]) -> list[dict]:
    """One node process for the whole batch: one JSON string per line in, one JSON object per line out."""
    lines = "".join(json.dumps(text) + "\n" for text in texts)  # ASCII-only JSON: lone surrogates survive
    done = subprocess.run(
        ["node", str(ORACLE / "analyze.js")],
        input=lines.encode("ascii"),
        capture_output=True,
        check=True,
        timeout=120,
    )
    results = [json.loads(line) for line in done.stdout.decode("utf-8").split("\n") if line]  # not splitlines: U+2028
    assert len(results) == len(texts), done.stderr.decode("utf-8", "replace")
    return results


# ---------------------------------------------------------------------------------------------------------------
# Comparison


def code_point_offsets(text: str) -> dict[int, int]:
    """UTF-16 offset -> code point offset, for every offset that falls between two code points."""
    offsets = {}
    units = 0
    for index, char in enumerate(text):
        offsets[units] = index
        units += 2 if ord(char) > 0xFFFF else 1
    offsets[units] = len(text)
    return offsets


def oracle_entities(text: str, found: list[dict], key: str, sigils: str) -> list[tuple[str, int, int]]:
    offsets = code_point_offsets(text)
    converted = []
    for entity in found:
        start, end = entity["indices"]
        assert start in offsets and end in offsets, f"oracle offsets {start, end} split a surrogate pair"
        start, end = offsets[start], offsets[end]
        value = entity[key] + entity.get("listSlug", "")
        written = text[start:end]
        if key == "url" and written != value and is_url_without_its_middle(value, written):
            value = written  # documented in test_a_url_without_scheme_is_its_text_not_twitter_texts_value
        assert written == value if not sigils else (written[:1] in sigils and written[1:] == value), (written, value)
        converted.append((value, start, end))
    return converted


def is_url_without_its_middle(value: str, written: str) -> bool:
    """twitter-text's odd URL value: its indices cover `written`, but the value leaves out part of the domain."""
    return len(value) < len(written) and any(
        written.startswith(value[:cut]) and written.endswith(value[cut:]) for cut in range(1, len(value))
    )


def mismatches(text: str, said: dict) -> list[str]:
    """Every way services.text disagrees with what the oracle `said` of `text`."""
    problems = []
    nfc = unicodedata.normalize("NFC", text)
    if said["nfc"] != nfc:
        return [f"NFC differs: JS {said['nfc']!r} vs Python {nfc!r}"]
    for profile, version in ((Profile.CLASSIC, "v1"), (Profile.WEIGHTED, "v3")):
        analysis = analyze(text, profile)
        expected = (said[version]["weightedLength"], said[version]["valid"])
        if (analysis.weighted_length, analysis.valid) != expected:
            got = (analysis.weighted_length, analysis.valid)
            problems.append(f"{profile.value}: (weighted_length, valid) {got} != {expected}")
    entities = said["entities"]

    def kind(key: str, sigils: str, only=lambda entity: True) -> list[tuple[str, int, int]]:
        return oracle_entities(nfc, [e for e in entities if key in e and only(e)], key, sigils)

    expected_entities = {
        "mentions": kind("screenName", "@＠", lambda entity: entity["listSlug"] == ""),
        "hashtags": kind("hashtag", "#＃"),
        "urls": kind("url", ""),
        "cashtags": kind("cashtag", "$"),
    }
    for name, expected in expected_entities.items():
        got = [(entity.value, entity.start, entity.end) for entity in getattr(analysis, name)]
        if got != expected:
            problems.append(f"Analysis.{name}: {got} != {expected}")
    extractors = {
        "mentions": (extract_mentions, "screenName", "@＠"),
        "mentionsOrLists": (extract_mentions_or_lists, "screenName", "@＠"),
        "hashtags": (extract_hashtags, "hashtag", "#＃"),
        "urls": (url_entities, "url", ""),
        "cashtags": (extract_cashtags, "cashtag", "$"),
    }
    for name, (extractor, key, sigils) in extractors.items():
        got = [(entity.value, entity.start, entity.end) for entity in extractor(nfc)]
        expected = oracle_entities(nfc, said[name], key, sigils)
        if got != expected:
            problems.append(f"extractor {name}: {got} != {expected}")
    return problems


def assert_agree(oracle, texts: list[str]) -> None:
    said = oracle(texts)
    COMPARED["texts"] += len(texts)
    failures = [
        (text, problems) for text, answer in zip(texts, said, strict=True) if (problems := mismatches(text, answer))
    ]
    assert not failures, "services.text disagrees with twitter-text on:\n" + "\n".join(
        f"  {text!r}\n    " + "\n    ".join(problems) for text, problems in failures[:20]
    )


# ---------------------------------------------------------------------------------------------------------------
# Curated texts

CURATED = [
    # empty, blank, invalid characters
    "",
    " ",
    "\n",
    "\u3000",
    "\ufeff",
    "a\ufffeb",
    "\uffff",
    "ok\ufeff@user #tag",
    "line\r\nbreak\r\n",
    "tab\there",
    # mentions
    "@alice",
    "＠alice",
    "hi @bob!",
    "hi@bob",
    "email me at joe@example.com",
    "@@double",
    "@a@b @c",
    "RT @alice: nice",
    "RT@alice",
    "rt:@alice",
    "xRT@alice",
    "@alice/friends",
    "@alice/1list",
    "@alice/" + "l" * 30,
    "@" + "a" * 20,
    "@" + "a" * 21,
    "@" + "a" * 25 + " @b",
    "@alice://x",
    "@aliceé",
    "!@bang #@hash $@cash %@pct",
    "&@amp *@star",
    "@alice_ @_b_ @9",
    '(@paren) [@bracket] "@quote"',
    "日本語@nihongo",
    "ciao @Anna e ＠bob_2, non@email",
    # hashtags
    "#tag",
    "＃tag",
    "#123",
    "#1a",
    "#a1",
    "##tag",
    "#tag#more",
    "#tag://x",
    "a#tag",
    "&#tag",
    "#tag_",
    "#_",
    "#日本語 #中文 #한국어",
    "#Москва #Київ",
    "#ελληνικά",
    "#العربية",
    "#עברית",
    "#हिन्दी",
    "#ภาษาไทย",
    "#café",
    "#cafe\u0301",
    "#\u200dzwj",
    "#a\u200cb",
    "#️⃣ keycap",
    "#\u20e3",
    "#a·b",
    "#ー",
    "#ゔ゛",
    "x\ufe0f#tag",
    "😷#emoji",
    "#tag😷",
    "例えば#日本",
    "#Ⅻ #ⅻ #²",
    "#٣٤ #a٣",
    "#_123",
    # cashtags
    "$AAPL",
    "$aapl",
    "$BRK.A",
    "$ab_cd",
    "$ABCDEFG",
    "$AAPL.US5",
    "$AAPL,",
    "x$AAPL",
    "$AAPL$",
    "$1",
    "$ſ",
    "\u3000$TSLA",
    "$AAPL\u00a0now",
    "$AAPL\u0085",
    "$AAPL\u2028",
    "($AAPL)",
    "$A_B.C",
    # URLs
    "example.com",
    "www.example.com/path?x=1&y=2#frag",
    "http://example.com",
    "https://example.com/a_(b)_c",
    "http://t.co/abc123",
    "https://t.co/abc?x=1yy",
    "http://t.co/" + "a" * 41,
    "müller.de",
    "http://müller.de/straße",
    "http://xn--mller-kva.de",
    "xn--mller-kva.de",
    "日本.jp",
    "http://日本.jp",
    "例え.テスト",
    "http://例え.テスト/パス",
    "http://שלוםa.com/x",
    "http://😷.com",
    "a.b.c.d.co.uk",
    "foo.bar",
    "foo.pizza",
    "foo.рф",
    "http://foo.рф/путь",
    "-example.com",
    "_example.com",
    "/example.com",
    ".example.com",
    "@example.com",
    "#example.com",
    "$example.com",
    "http://example.com.",
    "http://example.com:8080/x",
    "https://example.com/#/frag",
    "example.com/@user",
    "http://example.com/@user/",
    "http://" + "a" * 64 + ".com",
    "http://" + "a" * 63 + ".com",
    "example.ſite",
    "ıexample.com",
    "http://example.com/ſ",
    "http://İstanbul.com",
    "visit example.com/#tag and #tag",
    "http://example.com/#tag @user",
    "http://example.com?q=@user",
    "$example.com $AAPL.co",
    "@user.com",
    "#tag.com",
    "http://a.b。c.com",
    "http://x" + "\u3002" * 3 + "y.com",
    "t.co/abc",
    "HTTP://EXAMPLE.COM",
    "Https://Example.Com/Path",
    "ab.de⌛x.рф/p",
    "müller.de⌛K4пример.рф/list",
    "ab.de😷пример.рф/path",
    "ab.de😷😷пример.рф/" + "p" * 30 + " 👍🏽",
    "a.com日b.com/p",
    "x.de" + "😷" * 3 + "пример.рф/abc😷",
    "x.de😷пример.рф:80/a?b=1",
    "@😷-ab.com",
    "x😷-ab.com/p",
    "$😷ab.com",
    "😷http://ab.com",
    "@😷" + "a" * 60 + ".com",
    "@😷" + "a" * 50 + ".com",
    "example.comexample.com＃example.com.рф",
    "a.coma.com.com/x",
    # weighted length: CJK, emoji, punctuation ranges
    "日本語のテキスト",
    "中文文本",
    "한국어 텍스트",
    "😷",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇮🇹🇯🇵",
    "🇮",
    "🏳️‍🌈",
    "🏴‍☠️",
    "🧑‍🤝‍🧑",
    "🫠",
    "❤️",
    "❤",
    "☺",
    "☺️",
    "©",
    "©️",
    "®",
    "™",
    "1️⃣",
    "1⃣",
    "#️⃣",
    "⌛️",
    "♾️",
    "♟",
    "👁️‍🗨️",
    "👁‍🗨",
    "⛷🏽",
    "\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2032\u2037\u2038",
    "\u1100\u1161\u11a8",
    "\u10ff\u1100",
    "\u2000\u200d\u200e",
    "a" * 140,
    "a" * 141,
    "日" * 140,
    "日" * 141,
    "😷" * 140,
    "😷" * 141,
    "a" * 280,
    "a" * 281,
    "http://example.com/" + "a" * 300,
    "x " * 70,
    "e\u0301" * 140,
    "e\u0301" * 141,
    # several scripts mixed
    "Ciao @marco, guarda #Roma https://roma.it e $ENEL.MI!",
    "Привет @иван и @ivan #Россия example.рф",
    "¡Hola @maría! #España ñandú.es $SAN",
    "Bonjour @élise #Noël à l'été: https://fr.wikipedia.org/wiki/Noël",
    "今日は@tanaka さん #東京 https://例え.jp/テスト 😷",
    "مرحبا @ahmed #مصر example.eg ١٢٣",
    "สวัสดี @somchai #กรุงเทพ ไทย.com",
    "👩🏽‍💻 @dev #code 🧑🏿‍🚀 👨‍👩‍👧 🏳️‍⚧️",
]

# Cases where Chirp knowingly differs from twitter-text 3.1.0, each with the reason. The test checks that twitter-text
# still says otherwise (so the list does not outlive the reason).
DISAGREEMENTS = [
    # (text, Analysis field, the values Chirp finds, why twitter-text finds otherwise)
    # Hashtag letters and digits follow the Unicode database of the running Python (14.0); twitter-text's tables were
    # generated before Unicode 10. Letters and digits assigned since make hashtags in Chirp and not in twitter-text.
    (
        "#\u0860\u0861",
        "hashtags",
        ["\u0860\u0861"],
        "U+0860 Syriac supplement letters (Unicode 10); twitter-text's table predates them",
    ),
    (
        "#\U00030000",
        "hashtags",
        ["\U00030000"],
        "CJK extension G ideographs (Unicode 13); twitter-text's table predates them",
    ),
    (
        "#a\U00011d50",
        "hashtags",
        ["a\U00011d50"],
        "Masaram Gondi digits (Unicode 10); twitter-text's table predates them",
    ),
    # twitter-text's letter table also holds the private-use characters U+F870-U+F8B3, which are no letters.
    ("#\uf870", "hashtags", [], "U+F870 is a private-use character, not a letter"),
    # Case folding of characters newer than Python's Unicode database: Node's (Unicode 17) folds U+A7DC, assigned in
    # Unicode 16, onto U+019B, a Latin letter URL paths may hold. For Python 3.11 it is unassigned.
    ("example.com/\ua7dcx", "urls", ["example.com/"], "U+A7DC is unassigned in Unicode 14, so it folds to nothing"),
]


def test_the_oracle_runs_twitter_text_3_1_0(oracle):
    package = json.loads((ORACLE / "node_modules" / "twitter-text" / "package.json").read_text())
    assert package["version"] == "3.1.0"
    (said,) = oracle(["@a #b $C d.com"])
    assert [sorted(e) for e in said["entities"]] == [
        ["indices", "listSlug", "screenName"],
        ["hashtag", "indices"],
        ["cashtag", "indices"],
        ["indices", "url"],
    ]


def test_curated_texts_agree(oracle):
    assert_agree(oracle, CURATED)


def test_every_emoji_sequence_weighs_as_in_twitter_text(oracle):
    """Every emoji sequence Unicode knows (any version, any qualification) and every one twemoji-parser 11 is taken
    to know, alone and in company: the weighted length depends on where emoji start and end."""
    import emoji

    sequences = sorted(set(emoji.EMOJI_DATA) | twemoji_sequences())
    texts = sequences + ["a" + "".join(sequences[i : i + 7]) + "\ufe0f b" for i in range(0, len(sequences), 7)]
    assert_agree(oracle, texts)


def test_a_url_without_scheme_is_its_text_not_twitter_texts_value(oracle):
    """Without a scheme, twitter-text keeps only the last ASCII domain of a domain, then the path: for
    "ab.de⌛пример.рф/p" its indices cover the whole, but its URL is "ab.de/p", a string not in the text. Chirp
    keeps the indices and reports the text they cover (its spans always slice the text to the value), and counts
    the length as parseTweet does: 23 for as many characters as twitter-text's value has, the rest as text."""
    text = "see ab.de⌛пример.рф/p and ab.de😷пример.рф/path"
    (said,) = oracle([text])
    assert [(url["url"], url["indices"]) for url in said["urls"]] == [("ab.de/p", [4, 21]), ("ab.de/path", [26, 47])]
    urls = analyze(text).urls
    assert [(url.value, url.start, url.end) for url in urls] == [
        ("ab.de⌛пример.рф/p", 4, 21),
        ("ab.de😷пример.рф/path", 26, 46),
    ]
    assert analyze(text).weighted_length == said["v1"]["weightedLength"] == 4 + 23 + 10 + 5 + 23 + 11
    assert not mismatches(text, said)


@pytest.mark.parametrize(("text", "field", "values", "reason"), DISAGREEMENTS)
def test_documented_disagreements_still_disagree(oracle, text, field, values, reason):
    (said,) = oracle([text])
    assert mismatches(text, said), f"twitter-text now agrees on {text!r}: drop it from DISAGREEMENTS ({reason})"
    assert [entity.value for entity in getattr(analyze(text), field)] == values, reason


# ---------------------------------------------------------------------------------------------------------------
# Generated texts

LETTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "àáâäæçèéêëìíîïñòóôöøœùúûüßÀÉÖÜÑſıİ"  # Latin-1 and the letters JavaScript and Python fold differently
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЖЯіїєґ"  # Cyrillic
    "αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΩάέ"  # Greek
    "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآة"  # Arabic
    "אבגדהוזחטיכלמנסעפצקרשת"  # Hebrew
    "अआइईउकखगघचजटडतदनपबमयरलवशसह"  # Devanagari
    "กขคงจฉชซญดตถทนบปผพฟภมยรลวสหอฮ"  # Thai
    "あいうえおかきくけこさしすせそたちつてとなにぬねのゔ"  # Hiragana
    "アイウエオカキクケコサシスセソタチツテトナニヌネノー"  # Katakana
    "日本語中文汉字東京大学"  # CJK
    "한국어텍스트가나다"  # Hangul syllables
    "ＡＢＣａｂｃ"  # full-width Latin
)
MARKS = "\u0301\u0308\u0327\u0303\u093f\u094d\u0e31\u0e34\u0e48\u05b7\u064e\u3099\u309a\u1161\u11a8"
DIGITS = "0123456789٠١٢٣۴۵०१२३๑๒０１２"
SIGILS = "@#$＠＃"
PUNCTUATION = ".,;:!?/\\-_()[]{}&*%+~'\"|=<>^`…·・。．｡"
SPACES = [" ", " ", " ", "\n", "\t", "\r\n", "\u3000", "\u00a0", "\u2028", "\u200b", "\u200d", "\ufe0f", "\u20e3"]
RARE = ["\ufeff", "\ufffe", "\uffff", "\u0085", "\u202e", "\u200e", "\ufe0e", "\u1680"]
EMOJI = [
    "😷",
    "👍",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "👩🏽‍💻",
    "🧑🏿‍🚀",
    "🇮🇹",
    "🇯🇵",
    "🇺",
    "🏳️‍🌈",
    "❤️",
    "❤",
    "☺",
    "©",
    "®️",
    "™",
    "1️⃣",
    "#️⃣",
    "⌛",
    "♾️",
    "🫠",
    "🧑‍🤝‍🧑",
    "🏴‍☠️",
    "✌🏿",
    "🤵‍♂️",
    "🏻",
]
TOKENS = [
    "example.com",
    "t.co",
    "t.co/abc",
    "müller.de",
    "例え.jp",
    "пример.рф",
    "foo.bar",
    "www.",
    ".com",
    ".co.uk",
    ".jp",
    ".рф",
    ".テスト",
    "xn--",
    "http://",
    "https://",
    "HTTP://",
    "://",
    "/path",
    "?q=1",
    "#frag",
    "/@user",
    ":8080",
    "RT",
    "rt:",
    "/list",
    "AAPL",
    ".A",
    "_b",
    "@user",
    "#tag",
    "$TSLA",
    "＠ユーザー",
    "＃タグ",
    "a" * 18,
    "1234",
    "пример",
]


def _texts() -> st.SearchStrategy[str]:
    """Texts of up to 30 pieces: tokens that make or nearly make entities, letters of many scripts, marks, digits,
    sigils, punctuation, spaces and emoji."""
    piece = st.one_of(
        st.sampled_from(TOKENS),
        st.sampled_from(LETTERS),
        st.text(alphabet=LETTERS, min_size=1, max_size=8),
        st.sampled_from(MARKS),
        st.sampled_from(DIGITS),
        st.sampled_from(SIGILS),
        st.sampled_from(SIGILS),
        st.sampled_from(PUNCTUATION),
        st.sampled_from(SPACES),
        st.sampled_from(SPACES),
        st.sampled_from(EMOJI),
    )
    return st.lists(piece, max_size=30).map("".join)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_texts(), min_size=40, max_size=60))
def test_generated_texts_agree(oracle, texts):
    assert_agree(oracle, texts)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(_texts(), min_size=4, max_size=12).map(" ".join), min_size=20, max_size=30))
def test_generated_long_texts_agree(oracle, texts):
    """Around and past the limits: 140 and 280 units, many entities."""
    assert_agree(oracle, texts)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(
        st.lists(st.sampled_from([*RARE, *SPACES, *TOKENS[:8], "@a", "#b", "$C"]), max_size=12).map("".join),
        min_size=30,
        max_size=50,
    )
)
def test_generated_texts_with_rare_characters_agree(oracle, texts):
    """Invalid characters, bidi controls and unusual spaces next to entities."""
    assert_agree(oracle, texts)


@pytest.fixture(scope="module", autouse=True)
def _report_count(request):
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and COMPARED["texts"]:
        with capture.global_and_fixture_disabled():
            print(f"\ntwitter-text oracle: {COMPARED['texts']} texts compared (both profiles, every extractor)")
