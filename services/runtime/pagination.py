"""Page sizes and opaque page tokens (AIP-158).

A token is the position after the last item returned, as url-safe base64 of JSON, so it stays valid while new
items arrive ahead of it. Clients must treat it as opaque; a token that does not decode is INVALID_ARGUMENT.
"""

import base64
import binascii
import json

from services.runtime.errors import InvalidArgument


def clamp_page_size(requested: int, *, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidArgument("PAGE_SIZE_NEGATIVE", f"page_size must not be negative, got {requested}")
    return min(requested or default, maximum)


def encode_token(position: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, *, keys: tuple[str, ...]) -> dict | None:
    """The position a token stands for, or None for the first page."""
    if not token:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(position, dict) and all(key in position for key in keys):
            return position
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    raise InvalidArgument("PAGE_TOKEN_INVALID", "page_token is not one this API returned; start again without it")
