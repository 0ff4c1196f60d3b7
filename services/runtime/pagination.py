"""Page sizes and opaque page tokens (AIP-158).

A token is the position after the last item returned, as url-safe base64 of JSON, so it stays valid while new
items arrive ahead of it. Clients must treat it as opaque; a token that does not decode is INVALID_ARGUMENT.

Clients do not always treat it as opaque: a token is checked where it is decoded, key by key, against what the API
declares (`decode_token(token, keys={"before": ID})`), so a forged one with the right keys but a string, a float, a
boolean or a number no int64 column or timestamp can hold is refused there, never by the database later on.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from services.runtime.clock import MAX_UNIX_MS
from services.runtime.errors import InvalidArgument

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Far longer than any token an API issues; a longer one is refused before it is decoded.
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class Integer:
    """A key whose value is a JSON integer (not a boolean) from `minimum` to `maximum`."""

    minimum: int = INT64_MIN
    maximum: int = INT64_MAX

    def accepts(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.minimum <= value <= self.maximum


@dataclass(frozen=True)
class Text:
    """A key whose value is a JSON string of at most `max_length` characters."""

    max_length: int = 100

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and len(value) <= self.max_length


# What the APIs' positions are: an id (a user id or a time-ordered post id: never negative in an int64), a moment in
# Unix milliseconds (from 1970 to the end of year 9999, what a timestamp column and a datetime can hold).
ID = Integer(0, INT64_MAX)
UNIX_MS = Integer(0, MAX_UNIX_MS)

KeyType = Integer | Text | type[int] | type[str]


def _checker(kind: KeyType) -> Integer | Text:
    if kind is int:
        return Integer()
    if kind is str:
        return Text()
    assert isinstance(kind, Integer | Text), kind
    return kind


def clamp_page_size(requested: int, *, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidArgument("PAGE_SIZE_NEGATIVE", f"page_size must not be negative, got {requested}")
    return min(requested or default, maximum)


def encode_token(position: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, *, keys: Mapping[str, KeyType]) -> dict | None:
    """The position a token stands for, or None for the first page. `keys` names every key a token of this API has
    and what its value must be: `int` (any int64), `str` (a short string), or an `Integer` or `Text` with bounds."""
    if not token:
        return None
    try:
        if len(token) <= MAX_TOKEN_LENGTH:
            position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if (
                isinstance(position, dict)
                and position.keys() == keys.keys()
                and all(_checker(kind).accepts(position[key]) for key, kind in keys.items())
            ):
                return position
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        pass
    raise InvalidArgument("PAGE_TOKEN_INVALID", "page_token is not one this API returned; start again without it")
