"""Weighted length and validity of a text, as twitter-text's parseTweet computes them for a configuration.

The configurations are twitter-text's own, from twitter-text-parser (`twitter_text.config.config`):
- version1 ("classic"): at most 140, every code point weighs 1, every URL 23;
- version3 ("weighted"): at most 280, code points up to U+10FF and some punctuation (U+2000-U+200D,
  U+2010-U+201F, U+2032-U+2037) weigh 1, any other (CJK, emoji...) weighs 2, and so does a whole emoji sequence
  (👨‍👩‍👧 is one emoji, not five code points); every URL 23.

The port's parse_tweet is not called, because it disagrees with twitter-text: it turns "\\r\\n" into "\\n" before
counting (twitter-text counts both characters), cannot run the version1 configuration (KeyError on
`emoji_parsing_enabled`), and recognises Emoji 12.0 sequences and a bare © or ® as emoji where twitter-text's
twemoji-parser 11 does not. The loop below is parseTweet's, on code points: twitter-text weighs a surrogate pair
by its low surrogate, which lies in no range, so by the default weight, as the code point itself is here.
"""

import re
from dataclasses import dataclass

from services.text._port import CONFIGS, INVALID_CHARS_GROUP
from services.text.emoji import emoji_spans
from services.text.urls import Span, utf16_length

INVALID_CHARACTERS = re.compile(f"[{INVALID_CHARS_GROUP}]")


@dataclass(frozen=True)
class Config:
    """One of twitter-text's configurations."""

    max_weighted_length: int
    scale: int
    default_weight: int
    url_weight: int  # transformedURLLength x scale
    emoji_parsing: bool
    light: re.Pattern[str]  # characters whose weight is not the default (all ranges of twitter-text share one weight)
    light_weight: int

    @classmethod
    def of(cls, version: str) -> "Config":
        data = CONFIGS[version]
        ranges = data["ranges"]
        weights = {item["weight"] for item in ranges}
        if len(weights) > 1:
            raise ValueError(f"twitter-text {version} has ranges of several weights; Config assumes one")
        body = "".join(f"{re.escape(chr(item['start']))}-{re.escape(chr(item['end']))}" for item in ranges)
        return cls(
            max_weighted_length=data["max_weighted_tweet_length"],
            scale=data["scale"],
            default_weight=data["default_weight"],
            url_weight=data["transformed_url_length"] * data["scale"],
            emoji_parsing=bool(data.get("emoji_parsing_enabled", False)),
            light=re.compile(f"[{body}]" if body else "(?!)"),
            light_weight=weights.pop() if weights else data["default_weight"],
        )


VERSION1 = Config.of("version1")
VERSION3 = Config.of("version3")


def weighted_length(text: str, urls: list[Span], config: Config) -> int:
    """parseTweet's weightedLength of `text` (already NFC), given twitter-text's URLs in it."""
    total = 0
    position = 0
    # (start, URL before emoji at the same start as parseTweet tests URLs first, end, weight)
    spans = [(url.start, 0, *_url_extent(text, url, config)) for url in urls]
    if config.emoji_parsing:
        spans += [(start, 1, end, config.default_weight) for start, end in emoji_spans(text)]
    for start, _, end, weight in sorted(spans):
        if start < position:
            continue  # starts inside a URL or emoji already counted: parseTweet skips over it
        total += _plain_weight(text, position, start, config) + weight
        position = end
    total += _plain_weight(text, position, len(text), config)
    return total // config.scale


def _url_extent(text: str, url: Span, config: Config) -> tuple[int, int]:
    """Where parseTweet resumes after a URL, and the URL's weight: it skips `url.counted` UTF-16 code units, which
    is the whole URL but in one odd case (see services.text.urls), where the rest is then weighed as text."""
    if url.counted == utf16_length(url.value):
        return url.end, config.url_weight
    units = 0
    position = url.start
    while units < url.counted:
        units += 2 if text[position] > "\uffff" else 1
        position += 1
    # Stopping inside a surrogate pair, parseTweet weighs the low surrogate alone: the default weight, which is also
    # what the whole character weighs (every astral code point has it). Count it with the URL.
    extra = config.default_weight if units > url.counted else 0
    return position, config.url_weight + extra


def has_invalid_characters(text: str) -> bool:
    """U+FFFE, U+FEFF or U+FFFF anywhere make a text invalid (none of them can be inside a URL or an emoji)."""
    return INVALID_CHARACTERS.search(text) is not None


def is_valid(text: str, length: int, config: Config) -> bool:
    """parseTweet's `valid`: not empty, not over the limit, no invalid character."""
    return 0 < length <= config.max_weighted_length and not has_invalid_characters(text)


def _plain_weight(text: str, start: int, end: int, config: Config) -> int:
    count = end - start
    if count <= 0:
        return 0
    light = len(config.light.findall(text, start, end))
    return light * config.light_weight + (count - light) * config.default_weight
