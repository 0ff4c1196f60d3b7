"""Loads twitter-text-parser (import name `twitter_text`), the Python port of twitter-text Chirp builds on.

Why a loader: the port reads its emoji data at import time through `pkg_resources`, which setuptools no longer ships
(Chirp pins setuptools 84). When `pkg_resources` is missing, a stand-in providing the one function the port calls is
put in `sys.modules` for the duration of that import only, so no other library ever sees it.
"""

import importlib.util
import pathlib
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
from twitter_text.regexp.extract_url import extract_url as EXTRACT_URL  # noqa: E402
from twitter_text.regexp.invalid_chars_group import invalid_chars_group as INVALID_CHARS_GROUP  # noqa: E402
from twitter_text.regexp.latin_accent_chars import latin_accent_chars as _latin_accent_chars  # noqa: E402
from twitter_text.regexp.punct import punct as PUNCT  # noqa: E402
from twitter_text.regexp.spaces_group import spaces_group as SPACES_GROUP  # noqa: E402
from twitter_text.regexp.valid_ascii_domain import valid_ascii_domain as VALID_ASCII_DOMAIN  # noqa: E402
from twitter_text.regexp.valid_tco_url import valid_tco_url as VALID_TCO_URL  # noqa: E402

LATIN_ACCENT_CHARS: str = _latin_accent_chars.pattern

__all__ = [
    "CONFIGS",
    "EXTRACT_URL",
    "INVALID_CHARS_GROUP",
    "LATIN_ACCENT_CHARS",
    "PUNCT",
    "SPACES_GROUP",
    "VALID_ASCII_DOMAIN",
    "VALID_TCO_URL",
]
