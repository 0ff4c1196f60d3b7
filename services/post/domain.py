"""The post service's rules and words, with no I/O: what a reaction is, and what a post must respect."""

import enum
from dataclasses import dataclass
from datetime import datetime

from services.text import Profile

# Ancestors GetThread walks up at most.
MAX_THREAD_DEPTH = 100


class Reaction(enum.Enum):
    """What a user can do to someone's post, at most once each, and take back."""

    LIKE = "like"
    REPOST = "repost"


@dataclass(frozen=True)
class Reacted:
    """A like or a repost as stored: when it was made, and for a repost its own id (0 for a like)."""

    at: datetime
    repost_id: int = 0


@dataclass(frozen=True)
class PostingRules:
    profile: Profile
    rate_limit: int
    rate_window_seconds: int
