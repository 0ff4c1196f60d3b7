"""Loads twitter-text-parser (import name `twitter_text`), the Python port of twitter-text Chirp builds on.

Why a loader: the port reads its emoji data at import time through `pkg_resources`, which setuptools no longer ships
(Chirp pins setuptools 84). When `pkg_resources` is missing, a stand-in providing the one function the port calls is
put in `sys.modules` for the duration of that import only, so no other library ever sees it.
"""

import importlib.util
import pathlib
import re
import sys
import types


def _resource_string(module: str, name: str) -> bytes:
    return (pathlib.Path(sys.modules[module].__file__).parent / name).read_bytes()


def _load() -> None:
    if "twitter_text" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        import twitter_text  # noqa: F401

        return
    stand_in = types.ModuleType("pkg_resources")
    stand_in.resource_string = _resource_string
    sys.modules["pkg_resources"] = stand_in
    try:
        import twitter_text  # noqa: F401
    finally:
        if sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]


_load()

from twitter_text.config import config as CONFIGS  # noqa: E402
from twitter_text.regexp.extract_url import extract_url as _extract_url  # noqa: E402
from twitter_text.regexp.invalid_chars_group import invalid_chars_group as INVALID_CHARS_GROUP  # noqa: E402
from twitter_text.regexp.latin_accent_chars import latin_accent_chars as _latin_accent_chars  # noqa: E402
from twitter_text.regexp.punct import punct as PUNCT  # noqa: E402
from twitter_text.regexp.spaces_group import spaces_group as SPACES_GROUP  # noqa: E402
from twitter_text.regexp.valid_ascii_domain import valid_ascii_domain as _valid_ascii_domain  # noqa: E402
from twitter_text.regexp.valid_cctld import valid_cctld as _valid_cctld  # noqa: E402
from twitter_text.regexp.valid_domain_chars import valid_domain_chars as _valid_domain_chars  # noqa: E402
from twitter_text.regexp.valid_gtld import valid_gtld as _valid_gtld  # noqa: E402
from twitter_text.regexp.valid_punycode import valid_punycode as _valid_punycode  # noqa: E402
from twitter_text.regexp.valid_tco_url import valid_tco_url as VALID_TCO_URL  # noqa: E402

from services.text._trie import with_trie_alternations  # noqa: E402


def _faster(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The same pattern with its TLD lists as tries (see services.text._trie): same matches, 2-3x faster."""
    return re.compile(with_trie_alternations(pattern.pattern), pattern.flags)


EXTRACT_URL = _faster(_extract_url)  # twitter-text's extractUrl
VALID_ASCII_DOMAIN = _faster(_valid_ascii_domain)
LATIN_ACCENT_CHARS: str = _latin_accent_chars.pattern
# A top-level domain where a URL's domain ends: twitter-text's generic and country TLDs (each followed by a character
# that cannot continue it) or a Punycode one, case-insensitively as in its URL pattern.
VALID_TLD = re.compile(
    with_trie_alternations(f"(?:{_valid_gtld.pattern}|{_valid_cctld.pattern}|{_valid_punycode.pattern})"),
    _extract_url.flags & re.IGNORECASE,
)
# The characters no domain label may hold (all others may): twitter-text's punctuation, spaces, invalid characters
# and directional marks. All are in the BMP.
INVALID_DOMAIN_CHARS = frozenset(chr(c) for c in range(0x10000) if not _valid_domain_chars.match(chr(c)))

__all__ = [
    "CONFIGS",
    "EXTRACT_URL",
    "INVALID_CHARS_GROUP",
    "LATIN_ACCENT_CHARS",
    "PUNCT",
    "SPACES_GROUP",
    "INVALID_DOMAIN_CHARS",
    "VALID_ASCII_DOMAIN",
    "VALID_TLD",
    "VALID_TCO_URL",
]
