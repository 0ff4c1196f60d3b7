"""Chirp's text rules: twitter-text's length, validity and entities, plus Chirp's limits against abuse. No I/O.

`analyze` says what twitter-text says of a text (services.text.analysis); `validate_post` and `validate_bio` say
what Chirp accepts (services.text.validation). The pieces: services.text.length (weighted length),
services.text.urls, services.text.entities (mentions, hashtags, cashtags, overlaps), services.text.emoji.
"""

from services.text.analysis import Analysis, Entity, Profile, analyze
from services.text.validation import (
    MAX_BIO_BYTES,
    MAX_BIO_LENGTH,
    MAX_NOTIFIED_MENTIONS,
    MAX_POST_BYTES,
    check_characters,
    forbidden_character,
    is_blank,
    notified_mentions,
    validate_bio,
    validate_post,
)

__all__ = [
    "MAX_BIO_BYTES",
    "MAX_BIO_LENGTH",
    "MAX_NOTIFIED_MENTIONS",
    "MAX_POST_BYTES",
    "Analysis",
    "Entity",
    "Profile",
    "analyze",
    "check_characters",
    "forbidden_character",
    "is_blank",
    "notified_mentions",
    "validate_bio",
    "validate_post",
]
