"""URLs, with or without a scheme, found exactly where twitter-text (JS 3.1.0) finds them.

The patterns (valid TLDs, domain, path and query characters) are twitter-text-parser's, which are twitter-text's
own. Its extraction loop is not used, because it disagrees with twitter-text; corrected here:

- Domain check: the port runs Python's IDNA 2003 codec (nameprep, bidi rules, a failure on any odd label), which
  drops URLs twitter-text keeps, e.g. `http://שלוםa.com`. twitter-text only requires each label, Punycode-encoded,
  to be 1 to 63 characters long (and a domain starting with "xn--" to hold an ASCII domain); under Node, its
  `require("punycode")` is Node's built-in punycode 2.1, whose behaviour is the one kept.
- UTF-16: twitter-text's pattern reads UTF-16 code units, so it may cut an emoji in two (see _Utf16); it runs here
  on the same units, and lengths (the 4096 limit of a URL) are counted in them.
- Case folding: the patterns are case-insensitive. JavaScript (without the `u` flag) never folds a non-ASCII letter
  onto an ASCII one, Python does for ı (U+0131), İ (U+0130) and ſ (U+017F): `example.ſite` would be a URL on the
  `site` TLD. Those three are matched as another Latin letter of the same class (ƀ), so they behave as in JS.
- Two oddities of twitter-text's own, kept for the indices and the length (see extract_urls): where it places a
  domain found inside a longer one, and the URL it reports for a domain without scheme followed by a path.

And one for speed: Python's regular expressions backtrack far slower than JavaScript's, and twitter-text's URL pattern
fails slowly where a long chain of labels leads to no TLD ("a.a.a.a..." of 4 KiB took 47 s, against 66 ms in Node).
The pattern is only tried at positions where a domain can start and reach a TLD (`_domain_starts`, linear), and its
TLD lists are tries (services.text._trie); the matches are the pattern's own, so only the time changes.

Indices are code points of the text given, end exclusive; `value` is always `text[start:end]`.
"""

import bisect
import re
from typing import NamedTuple

from services.text._port import (
    EXTRACT_URL,
    INVALID_DOMAIN_CHARS,
    SPACES_GROUP,
    VALID_ASCII_DOMAIN,
    VALID_TCO_URL,
    VALID_TLD,
)

MAX_URL_LENGTH = 4096  # UTF-16 code units, scheme included
MAX_TCO_SLUG_LENGTH = 40
MAX_DOMAIN_LABEL_LENGTH = 63
DEFAULT_SCHEME = "https://"

# Letters Python's case-insensitive matching folds onto ASCII letters and JavaScript's does not.
_JS_FOLDING = str.maketrans({"\u0131": "\u0180", "\u0130": "\u0180", "\u017f": "\u0180"})
_FOLDED = re.compile("[\u0130\u0131\u017f]")


_IDEOGRAPHIC_STOPS = re.compile("[\u3002\uff0e\uff61]")
# No URL holds one of twitter-text's spaces, and every URL holds a ".": the pattern, costly to try at each position,
# only runs over the runs of non-spaces with a dot (and the one character before each, which it may take).
# (A run is only tried from its first character, so a long run without a dot costs linear time, not quadratic.)
_DOTTED_RUNS = re.compile(f"(?<![^{SPACES_GROUP}])[^{SPACES_GROUP}]*\\.[^{SPACES_GROUP}]*")


class Span(NamedTuple):
    value: str  # text[start:end]
    start: int
    end: int
    counted: int  # UTF-16 code units parseTweet counts as this URL (see extract_urls); the rest it weighs as text


def extract_urls(text: str) -> list[Span]:
    """twitter-text's extractUrlsWithIndices (URLs without a scheme included), in code points."""
    if not text or "." not in text:
        return []
    units = _Utf16(text)
    view = units.view.translate(_JS_FOLDING) if not text.isascii() and _FOLDED.search(text) else units.view
    urls: list[Span] = []
    for match in (match for run in _DOTTED_RUNS.finditer(view) for match in _url_matches(view, run.start(), run.end())):
        before, url, scheme, domain, path = match.group(2, 3, 4, 5, 7)
        end = match.end()
        start = end - len(url)
        if not _valid_url(url, scheme or DEFAULT_SCHEME, domain):
            continue
        if not scheme:
            # Without a scheme, only ASCII (and Latin-accented) domains count, and not right after - _ . or /.
            if before and before[-1] in "-_./":
                continue
            found = None
            searched_from = 0
            for found in VALID_ASCII_DOMAIN.finditer(domain):
                # twitter-text places each domain found at the first place its text occurs from the end of the
                # previous one (indexOf), which is not always where the pattern found it: "example.comexample.com
                # ＃example.com.рф" gives the domain at 0, not at 22. Followed here, since the text is the same.
                at = domain.find(found.group(0), searched_from)
                searched_from = at + len(found.group(0))
                urls.append(units.span(start + at, start + searched_from, len(found.group(0))))
            if found is None:
                continue
            if path:
                # The last domain found takes the port, path and query along: the entity runs to the URL's end.
                # twitter-text then gives as URL the domain it found followed by them, leaving out whatever came
                # between (for "ab.de😷пример.рф/p": indices of the whole, URL "ab.de/p"), and parseTweet
                # counts that many characters as the URL and the rest as text. Chirp's value is the text at the
                # indices, and `counted` keeps parseTweet's count.
                counted = len(found.group(0)) + len(url) - len(domain)
                urls[-1] = units.span(start + searched_from - len(found.group(0)), end, counted)
        else:
            tco = VALID_TCO_URL.match(url)
            if tco:
                # A t.co link ends after its slug (and query); one with a slug over 40 characters is no URL.
                if tco.group(1) and len(tco.group(1)) > MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + len(tco.group(0))
            urls.append(units.span(start, end, end - start))
    return urls


class _Utf16:
    """The text as JavaScript holds it, each astral character as two surrogates (`view`), and the way back to code
    points. twitter-text's URL pattern sees those halves: before a URL without a scheme it may take the first half
    of an emoji as "the character before" and the second half into the domain, which changes what it finds
    ("@😷-ab.com" holds the URL "-ab.com") and the length of the first label once Punycode-encoded."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.view = text
        self._astral: list[int] = []  # view offsets of the second halves
        if not text.isascii() and _ASTRAL.search(text):
            self.view = _ASTRAL.sub(_surrogates, text)
            self._astral = [index + 1 for index, unit in enumerate(self.view) if "\ud800" <= unit <= "\udbff"]

    def offset(self, unit: int) -> int:
        """Code point offset of a view offset (URLs start and end between whole characters)."""
        return unit - bisect.bisect_left(self._astral, unit) if self._astral else unit

    def span(self, start: int, end: int, counted: int) -> Span:
        first, last = self.offset(start), self.offset(end)
        return Span(self.text[first:last], first, last, counted)


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogates(match: re.Match) -> str:
    code = ord(match.group(0)) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def _url_matches(text: str, run_start: int, run_end: int):
    """EXTRACT_URL.finditer(text, run_start - 1, run_end), without trying the positions where it must fail."""
    domain_starts = _domain_starts(text, run_start, run_end)

    def url_may_start(at: int) -> bool:  # a scheme or not, then a domain that reaches a TLD
        if at in domain_starts:
            return True
        lowered = text[at : at + 8].lower()
        scheme = 8 if lowered.startswith("https://") else 7 if lowered.startswith("http://") else 0
        return bool(scheme) and at + scheme in domain_starts

    position = max(run_start - 1, 0)
    while position < run_end:
        # The pattern takes one character before the URL, or none at the very start of the text.
        if url_may_start(position + 1) or (position == 0 and url_may_start(0)):
            match = EXTRACT_URL.match(text, position, run_end)
            if match:
                yield match
                position = match.end()
                continue
        position += 1


def _domain_starts(text: str, start: int, end: int) -> set[int]:
    """Positions in text[start:end] where twitter-text's validDomain matches: labels ending with "." (a subdomain
    label holds domain characters, "-" and "_", the last label "-" but not "_", each starting and ending with a
    domain character), the last one followed by a TLD. Computed backwards, label by label, in linear time."""
    starts: set[int] = set()
    dot = None  # the "." ending the label being read
    last_is_domain_char = False  # the label's last character is a domain character
    tld_after = reach_after = False  # a TLD, or a domain, follows that "."
    sub_ok = name_ok = True  # every character read so far in the label fits a subdomain / a domain name
    for at in range(end - 1, start - 1, -1):
        char = text[at]
        if char == ".":
            dot = at
            last_is_domain_char = at - 1 >= start and text[at - 1] not in INVALID_DOMAIN_CHARS
            tld_after = VALID_TLD.match(text, at + 1, end) is not None
            reach_after = at + 1 in starts
            sub_ok = name_ok = True
            continue
        if dot is None:
            continue
        domain_char = char not in INVALID_DOMAIN_CHARS
        sub_ok = sub_ok and (domain_char or char in "_-")
        name_ok = name_ok and (domain_char or char == "-")
        if domain_char and last_is_domain_char and ((name_ok and tld_after) or (sub_ok and reach_after)):
            starts.add(at)
    return starts


def _valid_url(url: str, scheme: str, domain: str) -> bool:
    """twitter-text's isValidUrl: each label of the domain fits DNS once Punycode-encoded, and the URL is not huge.
    Arguments in UTF-16 (see _Utf16)."""
    if domain[:4] == "xn--" and not VALID_ASCII_DOMAIN.search(domain):
        return False
    for label in domain.split("."):
        if not 1 <= _punycode_length(label) <= MAX_DOMAIN_LABEL_LENGTH:
            return False
    # twitter-text adds the growth of the domain by Punycode here, but its toAscii returns the domain unchanged:
    # only the URL as written counts.
    return len(scheme) + len(url) <= MAX_URL_LENGTH


def _punycode_length(label: str) -> int:
    """Length of punycode.toASCII(label) as twitter-text gets it under Node (its built-in punycode 2.1): the label is
    split again at ideographic full stops (。．｡, which twitter-text lets into a label), and each part that is not
    ASCII becomes "xn--" + RFC 3492."""
    parts = _IDEOGRAPHIC_STOPS.sub(".", label).split(".")
    return (
        len(parts)
        - 1
        + sum(len(part) if part.isascii() else 4 + len(_code_points(part).encode("punycode")) for part in parts)
    )


def _code_points(units: str) -> str:
    """UTF-16 back to code points, as punycode.js reads it: pairs joined, a lone surrogate kept as it is."""
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def utf16_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2
