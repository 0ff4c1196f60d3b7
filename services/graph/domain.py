"""Rules of accounts, profiles, follows, blocks, mutes and filters, free of I/O."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.text import Profile, check_characters, validate_bio
from services.text.filters import keyword_alternatives

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


def ended_at(follow: Follow, at: datetime) -> datetime:
    """When an unfollow of `follow` wanted at `at` takes effect: strictly after the follow. The follow's rows are
    written at its time and deleted at this one, and the count projection applies the same rule to the events
    (`supersedes`), so an unfollow always beats the follow it ends, even from a replica whose clock is behind."""
    return max(at, follow.followed_at + timedelta(microseconds=1))


class CountKind(StrEnum):
    """What UserStats counts: the edges of a user of one kind (the other end: a follower, a followee, a post)."""

    FOLLOWERS = "followers"
    FOLLOWING = "following"
    POSTS = "posts"


@dataclass(frozen=True)
class EdgeState:
    """An edge as the count projection last applied it: the time (µs) of the event that set it, and whether it
    holds. An edge that stopped holding keeps its state, so that an older event replayed later changes nothing."""

    version: int
    present: bool


@dataclass(frozen=True)
class EdgeChange:
    """What one event says of one counted edge: `other_id` is, for `user_id`, a follower, a followee or a post."""

    user_id: int
    kind: CountKind
    other_id: int
    state: EdgeState


def supersedes(new: EdgeState, current: EdgeState | None, kind: CountKind) -> bool:
    """Whether `new` replaces `current`: the later event wins, and on a tie the end of the edge, as Cassandra
    settles the graph's own rows (they are written at the events' times, and a deletion wins a tie). A deleted post
    never comes back, whatever the clocks said. Applying an event twice, or an older one after a newer, is a no-op,
    so counts are exact however often and in whatever order events arrive."""
    if current is None:
        return True
    if kind is CountKind.POSTS:
        return current.present and not new.present
    if new.version != current.version:
        return new.version > current.version
    return current.present and not new.present


def settle(changes: Iterable[EdgeChange]) -> dict[tuple[int, CountKind], dict[int, EdgeState]]:
    """The winning state of each edge among a batch's changes, by counted (user, kind)."""
    settled: dict[tuple[int, CountKind], dict[int, EdgeState]] = {}
    for change in changes:
        edges = settled.setdefault((change.user_id, change.kind), {})
        if supersedes(change.state, edges.get(change.other_id), change.kind):
            edges[change.other_id] = change.state
    return settled


def applied(
    total: int, current: dict[int, EdgeState], incoming: dict[int, EdgeState], kind: CountKind
) -> tuple[int, dict[int, EdgeState]]:
    """The count after applying `incoming` to edges in `current` (those of them already known), and the edges that
    change: +1 for an edge that starts holding, -1 for one that stops."""
    changed = {other: state for other, state in incoming.items() if supersedes(state, current.get(other), kind)}
    for other, state in changed.items():
        before = current.get(other)
        total += int(state.present) - int(before is not None and before.present)
    return total, changed


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


# A user's filters of posts by words (Mastodon's filters v2): the limits a filter keeps to.
MAX_FILTERS = 100
MAX_FILTER_TITLE = 100
MAX_FILTER_KEYWORDS = 100
MAX_FILTER_KEYWORD = 100


def validate_filter(
    title: str, contexts: list[int], action: int, keywords: list[tuple[str, bool]], known_contexts: set[int]
) -> tuple[str, list[int], list[tuple[str, bool]]]:
    """The title (whitespace runs made one space), the contexts (without repeats, in the order given) and the
    keywords (trimmed) of a filter, each checked; INVALID_ARGUMENT for the first that breaks a rule. A keyword must
    hold a word the search analyzer keeps, or it would match nothing."""
    title = " ".join(title.split())
    if not title:
        raise InvalidArgument("FILTER_TITLE_MISSING", "a filter needs a title")
    if len(title) > MAX_FILTER_TITLE:
        raise InvalidArgument("FILTER_TITLE_TOO_LONG", f"a filter's title can be at most {MAX_FILTER_TITLE} characters")
    check_characters(title, "FILTER_TITLE_INVALID_CHARACTER", "a filter's title")
    unique = list(dict.fromkeys(contexts))
    if not unique or not all(context in known_contexts for context in unique):
        raise InvalidArgument(
            "FILTER_CONTEXT_INVALID",
            "a filter needs one or more contexts: home, notifications, thread, account, public",
        )
    if action == 0:
        raise InvalidArgument("FILTER_ACTION_MISSING", "a filter needs an action: warn or hide")
    if not keywords or len(keywords) > MAX_FILTER_KEYWORDS:
        raise InvalidArgument(
            "FILTER_KEYWORDS_INVALID",
            f"a filter needs 1 to {MAX_FILTER_KEYWORDS} keywords; this one has {len(keywords)}",
        )
    checked = []
    for keyword, whole_word in keywords:
        keyword = " ".join(keyword.split())
        if len(keyword) > MAX_FILTER_KEYWORD:
            raise InvalidArgument(
                "FILTER_KEYWORD_TOO_LONG", f"a keyword can be at most {MAX_FILTER_KEYWORD} characters", keyword=keyword
            )
        check_characters(keyword, "FILTER_KEYWORD_INVALID_CHARACTER", "a keyword")
        if not keyword_alternatives(keyword):
            raise InvalidArgument(
                "FILTER_KEYWORD_EMPTY", f"the keyword {keyword!r} holds no word to match", keyword=keyword
            )
        checked.append((keyword, whole_word))
    return title, unique, checked


# The latest expiry a Timestamp can say as a date (9999-12-31T23:59:59Z).
MAX_EXPIRY_SECONDS = 253_402_300_799


def check_expiry(seconds: int, nanos: int) -> None:
    """A filter's expiry must be a time (from 1970 to 9999), so that every reader can show it as a date."""
    if not 0 <= seconds <= MAX_EXPIRY_SECONDS or not 0 <= nanos < 1_000_000_000:
        raise InvalidArgument("FILTER_EXPIRY_INVALID", "expire_time must be a time between 1970 and 9999")


def check_filter_count(count: int) -> None:
    if count >= MAX_FILTERS:
        raise FailedPrecondition("FILTER_LIMIT_REACHED", f"a user can have at most {MAX_FILTERS} filters")
