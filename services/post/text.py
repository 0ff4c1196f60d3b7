"""What a post's text may be, and the @mentions in it. Pure functions: no I/O.

Issue 3 brings twitter-text's complete rules (URL weighting, the weighted profile, every entity); until then a post
is NFC-normalized, must hold something besides whitespace, and counts at most 140 code points.
"""

import re
import unicodedata
from dataclasses import dataclass

from services.runtime.errors import InvalidArgument

MAX_LENGTH = 140
MAX_NOTIFIED_MENTIONS = 10

# An @ (or full-width ＠) not glued to a word, then a handle, not followed by more handle characters or another @.
_MENTION = re.compile(r"(?<![A-Za-z0-9_!#$%&*@＠])[@＠]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@＠])")


@dataclass(frozen=True)
class MentionSpan:
    handle: str
    start: int
    end: int


def normalize_and_validate(text: str) -> str:
    """The text as it will be stored, or InvalidArgument naming the broken rule."""
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        raise InvalidArgument("TEXT_EMPTY", "a post needs some text; it is empty or only whitespace")
    length = len(text)
    if length > MAX_LENGTH:
        raise InvalidArgument(
            "TEXT_TOO_LONG",
            f"a post can be at most {MAX_LENGTH} characters; this one has {length}",
            length=str(length),
            max_length=str(MAX_LENGTH),
        )
    return text


def extract_mentions(text: str) -> list[MentionSpan]:
    """Mentions in order of appearance, each handle once (case-insensitive), at most MAX_NOTIFIED_MENTIONS."""
    seen: set[str] = set()
    spans = []
    for match in _MENTION.finditer(text):
        key = match.group(1).lower()
        if key not in seen:
            seen.add(key)
            spans.append(MentionSpan(match.group(1), match.start(), match.end()))
    return spans[:MAX_NOTIFIED_MENTIONS]
