"""@mentions, #hashtags and $cashtags by twitter-text's extractor rules, and its rule that entities never overlap.

twitter-text-parser (the Python port Chirp uses for URLs and lengths) has no such extractors; these follow
twitter-text 3.1.0 (JS), rule for rule, and tests/unit/test_text_oracle.py checks them against it. They work on
code points (Python strings), where twitter-text works on UTF-16: the rules read the same either way.

Choices where twitter-text leaves one to make, or where Chirp departs from it:
- A list reference `@user/list` is twitter-text's separate "list" entity: it is not a mention (nobody is notified;
  twitter-text's extractMentionsWithIndices leaves it out too), but it still takes its span, so no other entity may
  overlap it (as in extractEntitiesWithIndices).
- A handle is 1 to 20 of [A-Za-z0-9_]; as in twitter-text a longer run yields its first 20 characters. Chirp handles
  are at most 15 characters, so such a mention names nobody and notifies nobody.
- Hashtag letters, marks and digits are those of the Unicode database of the running Python (14.0 on 3.11).
  twitter-text's tables predate Unicode 10: a letter, mark or digit assigned since (U+0860 Syriac supplement,
  CJK extension F and G, Masaram Gondi...) makes a hashtag in Chirp and not in twitter-text, and twitter-text's
  tables also take private-use characters U+F870-U+F8B3 as letters, Chirp does not. The oracle test lists these.
"""

import functools
import re
import unicodedata
from typing import NamedTuple

from services.text._port import LATIN_ACCENT_CHARS, PUNCT, SPACES_GROUP
from services.text.urls import Span, extract_urls

MAX_HANDLE_LENGTH = 20
MAX_LIST_SLUG_LENGTH = 25

_AT_SIGNS = "@\uff20"
_HASH_SIGNS = "#\uff03"

_MENTION = re.compile(
    # Not glued to a word, an e-mail-like text or another sigil; "RT" or "RT:" right before the @ is fine.
    r"(?P<before>^|[^A-Za-z0-9_!#$%&*@\uff20]|(?:^|[^A-Za-z0-9_+~.\-])(?:rt|RT|rT|Rt):?)"
    f"[@\uff20](?P<handle>[A-Za-z0-9_]{{1,{MAX_HANDLE_LENGTH}}})"
    f"(?P<list>/[A-Za-z][A-Za-z0-9_\\-]{{0,{MAX_LIST_SLUG_LENGTH - 1}}})?"
)
# What may not follow a mention: another @, a Latin-accented letter (the handle would go on), or a URL scheme's ://.
_MENTION_END = re.compile(f"[@\\uff20]|[{LATIN_ACCENT_CHARS}]|://")
_HASHTAG_END = re.compile(r"[#\uff03]|://")

# JavaScript's \s, which is not Python's: it has U+FEFF but neither U+001C-U+001F nor U+0085.
_JS_WHITESPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_CASHTAG = re.compile(
    # After a space (twitter-text's list of them) or at the start; $ and 1-6 ASCII letters, optionally "." or "_" and
    # 1-2 more; then the end, a space or ASCII punctuation. No re.IGNORECASE: it would let ſ and K (Kelvin) in.
    f"(?P<before>^|[{SPACES_GROUP}])\\$(?P<symbol>[A-Za-z]{{1,6}}(?:[._][A-Za-z]{{1,2}})?)"
    f"(?=\\Z|[{_JS_WHITESPACE}]|[{PUNCT}])"
)

# Characters a hashtag may hold besides letters, marks and digits (twitter-text's list): joiners and a few
# script-specific marks and middle dots.
HASHTAG_SPECIAL_CHARS = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)


class Extracted(NamedTuple):
    kind: str  # "url", "mention", "list", "hashtag" or "cashtag"
    value: str  # without the sigil for mentions, lists (handle/slug), hashtags and cashtags
    start: int  # code points, sigil included
    end: int  # exclusive


def extract_mentions_or_lists(text: str) -> list[Extracted]:
    """twitter-text's extractMentionsOrListsWithIndices: mentions, and `@user/list` references as kind "list"."""
    if not text or not any(sign in text for sign in _AT_SIGNS):
        return []
    found = []
    for match in _MENTION.finditer(text):
        if _MENTION_END.match(text, match.end()):
            continue  # no retry with a shorter handle: twitter-text drops the whole match
        start = match.start() + len(match.group("before"))
        if match.group("list"):
            found.append(Extracted("list", match.group("handle") + match.group("list"), start, match.end()))
        else:
            found.append(Extracted("mention", match.group("handle"), start, match.end()))
    return found


def extract_mentions(text: str) -> list[Extracted]:
    """twitter-text's extractMentionsWithIndices: @handles, lists left out."""
    return [entity for entity in extract_mentions_or_lists(text) if entity.kind == "mention"]


def extract_hashtags(text: str, check_url_overlap: bool = True) -> list[Extracted]:
    """twitter-text's extractHashtagsWithIndices: by default a hashtag inside a URL (example.com/#tag) is none."""
    if not text or not any(sign in text for sign in _HASH_SIGNS):
        return []
    found = []
    for match in _hashtag_pattern().finditer(text):
        if _HASHTAG_END.match(text, match.end()):
            continue
        start = match.start() + len(match.group("before"))
        found.append(Extracted("hashtag", match.group("tag"), start, match.end()))
    if check_url_overlap and found:
        urls = url_entities(text)
        if urls:
            found = [entity for entity in remove_overlaps(found + urls) if entity.kind == "hashtag"]
    return found


def extract_cashtags(text: str) -> list[Extracted]:
    """twitter-text's extractCashtagsWithIndices: $AAPL, $BRK.A, $ab_cd."""
    if not text or "$" not in text:
        return []
    return [
        Extracted("cashtag", match.group("symbol"), match.start() + len(match.group("before")), match.end())
        for match in _CASHTAG.finditer(text)
    ]


def url_entities(text: str, spans: list[Span] | None = None) -> list[Extracted]:
    """extract_urls as entities (`spans`: extract_urls(text), when already at hand)."""
    spans = extract_urls(text) if spans is None else spans
    return [Extracted("url", span.value, span.start, span.end) for span in spans]


def extract_entities(text: str, urls: list[Extracted] | None = None) -> list[Extracted]:
    """twitter-text's extractEntitiesWithIndices: every entity, ordered by start, none overlapping another.

    Of entities that overlap, the one starting first wins; at the same start, URLs win over mentions and lists,
    which win over hashtags, which win over cashtags (so a URL swallows the #fragment or @ inside it).
    `urls`: url_entities(text), when already at hand."""
    entities = (url_entities(text) if urls is None else list(urls)) + extract_mentions_or_lists(text)
    entities += extract_hashtags(text, check_url_overlap=False) + extract_cashtags(text)
    return remove_overlaps(entities)


def remove_overlaps(entities: list[Extracted]) -> list[Extracted]:
    """twitter-text's removeOverlappingEntities: a stable sort by start, then each entity that starts before the end
    of the last one kept is dropped."""
    kept: list[Extracted] = []
    for entity in sorted(entities, key=lambda entity: entity.start):
        if not kept or entity.start >= kept[-1].end:
            kept.append(entity)
    return kept


@functools.cache
def _hashtag_pattern() -> re.Pattern[str]:
    """Built on first use (about 0.1 s): character classes of every letter, mark and decimal digit in Unicode."""
    letters, alphanumerics = _unicode_classes()
    alphanumerics += re.escape(HASHTAG_SPECIAL_CHARS)
    return re.compile(
        # At the start, after U+FE0E/U+FE0F, or after any character that could not continue a hashtag, nor "&".
        f"(?P<before>^|[\\ufe0e\\ufe0f]|(?![{alphanumerics}&]).)"
        # A hash sign not starting a keycap emoji (#️⃣), then letters, marks, digits and joiners, not digits only.
        f"[#\\uff03](?![\\ufe0f\\u20e3])(?P<tag>[{alphanumerics}]*[{letters}][{alphanumerics}]*)",
        re.DOTALL,
    )


def _unicode_classes() -> tuple[str, str]:
    """Regular-expression class bodies of Unicode letters and marks (L*, M*), and of those plus decimal digits (Nd)."""
    letters: list[tuple[int, int]] = []
    alphanumerics: list[tuple[int, int]] = []
    category = unicodedata.category
    # Letters, marks and digits are all in planes 0 to 3 and 14 (variation selectors); the rest is unassigned,
    # private use or noncharacters.
    for code_point in (*range(0x40000), *range(0xE0000, 0xE1000)):
        kind = category(chr(code_point))
        is_letter = kind[0] in "LM"
        for ranges, member in ((letters, is_letter), (alphanumerics, is_letter or kind == "Nd")):
            if member:
                if ranges and ranges[-1][1] == code_point - 1:
                    ranges[-1] = (ranges[-1][0], code_point)
                else:
                    ranges.append((code_point, code_point))

    def body(ranges: list[tuple[int, int]]) -> str:
        return "".join(re.escape(chr(low)) + (f"-{re.escape(chr(high))}" if high > low else "") for low, high in ranges)

    return body(letters), body(alphanumerics)
