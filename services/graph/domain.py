"""Rules of accounts and follows, free of I/O."""

import re
from dataclasses import dataclass
from datetime import datetime

from services.runtime.errors import InvalidArgument

HANDLE_PATTERN = re.compile(r"[A-Za-z0-9_]{1,15}")
MAX_DISPLAY_NAME = 50


@dataclass(frozen=True)
class User:
    user_id: int
    handle: str
    display_name: str
    create_time: datetime


@dataclass(frozen=True)
class Follow:
    follower_id: int
    followee_id: int
    followed_at: datetime


def handle_key(handle: str) -> str:
    """What makes two handles the same: case does not count."""
    return handle.lower()


def validate_handle(handle: str) -> str:
    handle = handle.strip().removeprefix("@")
    if not HANDLE_PATTERN.fullmatch(handle):
        raise InvalidArgument(
            "HANDLE_INVALID",
            f"handle {handle!r} is not allowed: use 1 to 15 letters (A-Z), digits or underscores",
            handle=handle,
        )
    return handle


def validate_display_name(display_name: str, handle: str) -> str:
    """The name shown beside the handle; the handle itself when none is given."""
    display_name = " ".join(display_name.split())
    if len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidArgument(
            "DISPLAY_NAME_TOO_LONG",
            f"a display name can be at most {MAX_DISPLAY_NAME} characters; this one has {len(display_name)}",
        )
    return display_name or handle


def check_follow(follower_id: int, followee_id: int) -> None:
    if follower_id == followee_id:
        raise InvalidArgument("SELF_FOLLOW", "you cannot follow or unfollow yourself", user_id=str(follower_id))
