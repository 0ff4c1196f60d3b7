"""Rules of accounts, profiles, follows, blocks and mutes, free of I/O."""

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.text import Profile, check_characters, validate_bio

HANDLE_PATTERN = re.compile(r"[A-Za-z0-9_]{1,15}")
MAX_DISPLAY_NAME = 50


@dataclass(frozen=True)
class User:
    user_id: int
    handle: str
    display_name: str
    create_time: datetime
    bio: str = ""
    # When the profile last changed; None until it does.
    update_time: datetime | None = None
    # Whether search may index the user's posts (Mastodon's `indexable`).
    indexable: bool = True


@dataclass(frozen=True)
class Stats:
    follower_count: int
    following_count: int
    post_count: int


@dataclass(frozen=True)
class Relationship:
    """How one user stands towards another, from the first one's point of view."""

    following: bool
    followed_by: bool
    blocking: bool
    blocked_by: bool
    muting: bool


@dataclass(frozen=True)
class Follow:
    follower_id: int
    followee_id: int
    followed_at: datetime


class RestrictionKind(StrEnum):
    BLOCK = "block"
    MUTE = "mute"


@dataclass(frozen=True)
class Restriction:
    """`user_id` blocks or mutes `target_id`, since `since`: one way, and at most once per pair."""

    kind: RestrictionKind
    user_id: int
    target_id: int
    since: datetime


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
    """The name shown beside the handle (whitespace runs made one space); the handle itself when none is given.
    INVALID_ARGUMENT when too long, or holding a character no text may (services.text.check_characters)."""
    display_name = " ".join(display_name.split())
    if len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidArgument(
            "DISPLAY_NAME_TOO_LONG",
            f"a display name can be at most {MAX_DISPLAY_NAME} characters; this one has {len(display_name)}",
        )
    check_characters(display_name, "DISPLAY_NAME_INVALID_CHARACTER", "a display name")
    return display_name or handle


def updated_profile(
    user: User, display_name: str | None, bio: str | None, text_profile: Profile, indexable: bool | None = None
) -> User:
    """The user with the given profile fields replaced (None keeps one), each checked by its rule; the bio is
    measured as posts are, by `text_profile`."""
    if display_name is None and bio is None and indexable is None:
        raise InvalidArgument(
            "PROFILE_UPDATE_EMPTY", "nothing to change: set display_name, bio, indexable or any of them"
        )
    return replace(
        user,
        display_name=user.display_name if display_name is None else validate_display_name(display_name, user.handle),
        bio=user.bio if bio is None else validate_bio(bio, text_profile),
        indexable=user.indexable if indexable is None else indexable,
    )


def check_not_self(action: str, user_id: int, other_id: int) -> None:
    """Following, blocking or muting yourself means nothing, and neither does undoing it."""
    if user_id == other_id:
        raise InvalidArgument(
            f"SELF_{action.upper()}", f"you cannot {action} or un{action} yourself", user_id=str(user_id)
        )


def check_follow(follower_id: int, followee_id: int) -> None:
    check_not_self("follow", follower_id, followee_id)


def check_may_follow(followee: User, blocked_by: bool, blocking: bool) -> None:
    """A block keeps the two apart both ways: the blocked user may not follow, the blocker must unblock first."""
    if blocked_by:
        raise PermissionDenied(
            "BLOCKED_BY_USER",
            f"@{followee.handle} has blocked you, so you cannot follow them",
            user_id=str(followee.user_id),
        )
    if blocking:
        raise FailedPrecondition(
            "USER_BLOCKED",
            f"you have blocked @{followee.handle}; unblock them before following them",
            user_id=str(followee.user_id),
        )
