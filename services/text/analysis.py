"""What twitter-text says of a post's text, in the shape Chirp stores and serves: `analyze`.

Everything is computed on the NFC-normalized text, which is what Chirp stores: the entities' offsets point into
`Analysis.text`, not into the text as received (they differ when the input was not NFC). Offsets are code points
(Python string indices), end exclusive, the sigil included: `text[start:end] == "@" + value` for a mention
(or "＠" + value), `"#"`/`"＃"` + value for a hashtag, `"$"` + value for a cashtag, and the URL itself for a URL.
twitter-text reports UTF-16 offsets; Chirp's are the same positions counted in code points.
"""

import enum
import unicodedata
from dataclasses import dataclass

from services.text import length
from services.text.entities import extract_entities, url_entities
from services.text.urls import extract_urls


class Profile(enum.Enum):
    """How a text is measured. CLASSIC (the default) is twitter-text's version 1 configuration: 140, every code point
    counts 1. WEIGHTED is its version 3: 280 units, CJK characters and emoji count 2. In both, a URL counts 23."""

    CLASSIC = "classic"
    WEIGHTED = "weighted"

    @property
    def config(self) -> length.Config:
        return length.VERSION1 if self is Profile.CLASSIC else length.VERSION3

    @property
    def max_length(self) -> int:
        return self.config.max_weighted_length


@dataclass(frozen=True)
class Entity:
    value: str
    start: int
    end: int

    def as_json(self) -> dict:
        return {"value": self.value, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Analysis:
    text: str  # NFC-normalized
    weighted_length: int  # twitter-text's weightedLength for the profile
    valid: bool  # twitter-text's parseTweet(...).valid for the profile: 1..max units, no U+FFFE, U+FEFF, U+FFFF
    mentions: list[Entity]  # @handle, not @handle/list (see services.text.entities)
    hashtags: list[Entity]
    urls: list[Entity]
    cashtags: list[Entity]

    def as_json(self) -> dict:
        return {
            "weighted_length": self.weighted_length,
            "valid": self.valid,
            "mentions": [entity.as_json() for entity in self.mentions],
            "hashtags": [entity.as_json() for entity in self.hashtags],
            "urls": [entity.as_json() for entity in self.urls],
            "cashtags": [entity.as_json() for entity in self.cashtags],
        }


def analyze(text: str, profile: Profile = Profile.CLASSIC) -> Analysis:
    """Length, validity and entities of `text` by twitter-text's rules for `profile`; no limit of Chirp's own."""
    normalized = unicodedata.normalize("NFC", text)
    spans = extract_urls(normalized)
    weighted = length.weighted_length(normalized, spans, profile.config)
    urls = url_entities(normalized, spans)
    kinds: dict[str, list[Entity]] = {"mention": [], "hashtag": [], "url": [], "cashtag": [], "list": []}
    for found in extract_entities(normalized, urls):
        kinds[found.kind].append(Entity(found.value, found.start, found.end))
    return Analysis(
        text=normalized,
        weighted_length=weighted,
        valid=length.is_valid(normalized, weighted, profile.config),
        mentions=kinds["mention"],
        hashtags=kinds["hashtag"],
        urls=kinds["url"],
        cashtags=kinds["cashtag"],
    )
