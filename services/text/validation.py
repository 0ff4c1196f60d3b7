"""What Chirp accepts: twitter-text's rules plus limits against abuse. Raises InvalidArgument naming the rule broken.

On top of twitter-text:
- size: at most MAX_POST_BYTES of UTF-8, both as received and once NFC-normalized (NFC can grow a text), whatever
  the weighted length: a few long URLs count 23 each but would otherwise let a post carry kilobytes;
- blank: a post of nothing but whitespace and invisible characters (zero-width spaces and joiners, fillers, bidi
  controls...) is empty, though twitter-text counts it;
- lone surrogates (possible in a Python string, never in UTF-8) are invalid characters, and so are control
  characters but tab, line feed and carriage return (NUL first of all), and the bidi embeddings, overrides and
  isolates (U+202A-U+202E, U+2066-U+2069), which reorder the text after them so that it shows something else than
  what it says ("Trojan Source"). The bidi marks (U+200E, U+200F, U+061C) reorder nothing and right-to-left
  writers need them: they stay. `check_characters` applies the same rule to other texts (display names);
- a bio is bounded in bytes too, at MAX_BIO_BYTES: 160 characters of the longest UTF-8 (4 bytes) are 640, and
  what is left is room for a long URL, which counts 23 whatever its length;
- mentions: the post service notifies at most MAX_NOTIFIED_MENTIONS distinct users per post (`notified_mentions`).
"""

import unicodedata

from services.runtime.errors import InvalidArgument
from services.text.analysis import Analysis, Entity, Profile, analyze

MAX_POST_BYTES = 4096
MAX_BIO_LENGTH = 160
MAX_BIO_BYTES = 1024
MAX_NOTIFIED_MENTIONS = 10

# Characters that show nothing: a post made only of these and whitespace is blank.
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c"
    "\u206d\u206e\u206f\u2800\u3164\uffa0" + "".join(chr(c) for c in range(0xFE00, 0xFE10))  # variation selectors
)


def is_blank(text: str) -> bool:
    """Nothing but whitespace (str.isspace) and invisible characters."""
    return all(char.isspace() or char in _INVISIBLE for char in text)


def validate_post(text: str, profile: Profile = Profile.CLASSIC) -> Analysis:
    """The analysis of a publishable post, or InvalidArgument with reason TEXT_TOO_LARGE, TEXT_EMPTY,
    TEXT_INVALID_CHARACTER or TEXT_TOO_LONG (checked in that order)."""
    _check_size(text, MAX_POST_BYTES, "TEXT_TOO_LARGE", "a post")
    normalized = unicodedata.normalize("NFC", text)
    _check_size(normalized, MAX_POST_BYTES, "TEXT_TOO_LARGE", "a post")
    if is_blank(normalized):
        raise InvalidArgument("TEXT_EMPTY", "a post needs some text; it is empty or only whitespace")
    check_characters(normalized, "TEXT_INVALID_CHARACTER", "a post")
    analysis = analyze(normalized, profile)
    limit = profile.max_length
    if analysis.weighted_length > limit:
        raise InvalidArgument(
            "TEXT_TOO_LONG",
            f"a post can be at most {limit} characters; this one has {analysis.weighted_length}",
            length=str(analysis.weighted_length),
            max_length=str(limit),
            profile=profile.value,
        )
    return analysis


def validate_bio(text: str, profile: Profile = Profile.CLASSIC) -> str:
    """The NFC form of a profile bio: empty allowed, at most MAX_BIO_LENGTH weighted units by the profile's rules
    (and at most MAX_BIO_BYTES of UTF-8); or InvalidArgument BIO_TOO_LONG / BIO_INVALID_CHARACTER."""
    _check_size(text, MAX_BIO_BYTES, "BIO_TOO_LONG", "a bio")
    normalized = unicodedata.normalize("NFC", text)
    _check_size(normalized, MAX_BIO_BYTES, "BIO_TOO_LONG", "a bio")
    check_characters(normalized, "BIO_INVALID_CHARACTER", "a bio")
    if normalized:
        weighted = analyze(normalized, profile).weighted_length
        if weighted > MAX_BIO_LENGTH:
            raise InvalidArgument(
                "BIO_TOO_LONG",
                f"a bio can be at most {MAX_BIO_LENGTH} characters; this one has {weighted}",
                length=str(weighted),
                max_length=str(MAX_BIO_LENGTH),
                profile=profile.value,
            )
    return normalized


def notified_mentions(analysis: Analysis, limit: int = MAX_NOTIFIED_MENTIONS) -> list[Entity]:
    """The mentions whose users a post notifies: the first of each handle (handles compare case-insensitively),
    in order of appearance, at most `limit`."""
    seen: set[str] = set()
    notified = []
    for mention in analysis.mentions:
        key = mention.value.lower()
        if key not in seen and len(notified) < limit:
            seen.add(key)
            notified.append(mention)
    return notified


def utf8_size(text: str) -> int:
    """Bytes of UTF-8 (a lone surrogate counted as the 3 bytes it would take)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _check_size(text: str, max_bytes: int, reason: str, what: str) -> None:
    # Cheap bound first: a code point takes at most 4 bytes, so short texts need no encoding.
    if len(text) * 4 > max_bytes and (size := utf8_size(text)) > max_bytes:
        raise InvalidArgument(
            reason,
            f"{what} can be at most {max_bytes} bytes of UTF-8; this one has {size}",
            size=str(size),
            max_size=str(max_bytes),
        )


# twitter-text's invalid characters: two noncharacters and the byte order mark.
_NONCHARACTERS = "\ufffe\ufeff\uffff"
# Bidi embeddings (LRE, RLE), pop (PDF), overrides (LRO, RLO) and isolates (LRI, RLI, FSI, PDI).
BIDI_FORMATTING = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Control characters (Unicode category Cc: C0, DEL, C1) but the tab and the two line breaks.
_CONTROLS = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r")
_FORBIDDEN = frozenset(_NONCHARACTERS + BIDI_FORMATTING + _CONTROLS)


def forbidden_character(text: str) -> str | None:
    """The first character no text of Chirp's may hold (see the module's docstring), or None."""
    for char in text:
        if char in _FORBIDDEN or "\ud800" <= char <= "\udfff":
            return char
    return None


def describe_character(char: str) -> str:
    """U+202E (RIGHT-TO-LEFT OVERRIDE), U+0000 (NULL, a control character): what a person can look up."""
    if char in _CONTROLS:
        name = "NULL, a control character" if char == "\0" else "a control character"
    elif "\ud800" <= char <= "\udfff":
        name = "a lone surrogate"
    else:
        name = unicodedata.name(char, "a noncharacter")
    return f"U+{ord(char):04X} ({name})"


def check_characters(text: str, reason: str, what: str) -> None:
    """InvalidArgument `reason` naming the first forbidden character of `text`, which is `what` ("a post")."""
    char = forbidden_character(text)
    if char is not None:
        raise InvalidArgument(
            reason,
            f"{what} cannot contain the character {describe_character(char)}",
            code_point=f"U+{ord(char):04X}",
        )
