"""Who is notified of what, how acts group, and where a notification stands. Pure rules, no I/O."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from chirp.graph.v1 import graph_pb2
from chirp.notification.v1.notification_pb2 import NotificationKind
from chirp.post.v1 import post_pb2
from services.runtime.clock import MAX_UNIX_MS, as_utc, datetime_from_ms, ms_of
from services.runtime.pagination import ID, UNIX_MS, Text

NEW_FOLLOWER = NotificationKind.NOTIFICATION_KIND_NEW_FOLLOWER
MENTION = NotificationKind.NOTIFICATION_KIND_MENTION
REPLY = NotificationKind.NOTIFICATION_KIND_REPLY
REPOST = NotificationKind.NOTIFICATION_KIND_REPOST
QUOTE = NotificationKind.NOTIFICATION_KIND_QUOTE
LIKE = NotificationKind.NOTIFICATION_KIND_LIKE
KINDS = (NEW_FOLLOWER, MENTION, REPLY, REPOST, QUOTE, LIKE)

_PREFIX = {NEW_FOLLOWER: "follow", MENTION: "mention", REPLY: "reply", REPOST: "repost", QUOTE: "quote", LIKE: "like"}
# Kinds a post causes in other people's notifications: deleting the post retracts them.
CAUSED_BY_POST = (MENTION, REPLY, QUOTE)

# New followers group by window of time, as Mastodon groups follows (it keeps a group going while it spans at most
# 12 hours). Here the windows are fixed, 12 hours from midnight UTC, so that an act's group depends on the act
# alone and a replay in any order groups the same: follows at 11:50 and 12:10 UTC land in two groups.
FOLLOW_WINDOW = timedelta(hours=12)
# A group's size is counted from its newest act down, at most this many: listing reads a bounded slice of every
# group whatever its size, and a client shows "99+ others" for more.
MAX_COUNTED_ACTORS = 100


def follow_window_start(at: datetime, window: timedelta = FOLLOW_WINDOW) -> datetime:
    """The start of the window of followers an act at `at` joins (windows start at 1970-01-01 00:00 UTC)."""
    width = int(window.total_seconds() * 1000)
    return datetime_from_ms(ms_of(as_utc(at)) // width * width)


def group_key(kind: int, post_id: int = 0, window_start: datetime | None = None) -> str:
    """The group an act joins: one per kind and post, and for new followers one per window of time (named by its
    start in milliseconds, "follow:1767225600000"). Likes and reposts of a post collect many actors ("Ana and 3
    others liked your post"); a mention, reply or quote is its own post. `window_start=None` gives "follow", the
    one group of every follower before follows had windows (still a valid key in ids given then)."""
    if kind == NEW_FOLLOWER:
        return _PREFIX[kind] if window_start is None else f"{_PREFIX[kind]}:{ms_of(window_start)}"
    return f"{_PREFIX[kind]}:{post_id}"


@dataclass(frozen=True)
class Act:
    """Something `actor_id` did that may notify `recipient_id`."""

    recipient_id: int
    kind: int
    actor_id: int
    create_time: datetime
    post_id: int = 0
    post_text: str = ""
    # How wide a window of new followers is (only follows use it).
    follow_window: timedelta = FOLLOW_WINDOW

    @property
    def group_key(self) -> str:
        if self.kind == NEW_FOLLOWER:
            return group_key(NEW_FOLLOWER, window_start=follow_window_start(self.create_time, self.follow_window))
        return group_key(self.kind, self.post_id)


@dataclass(frozen=True)
class Retraction:
    """An act taken back: its actor leaves the group it joined."""

    recipient_id: int
    group_key: str
    actor_id: int


@dataclass(frozen=True)
class Preferences:
    disabled_kinds: frozenset[int] = field(default_factory=frozenset)
    only_following: bool = False


@dataclass(frozen=True)
class Standing:
    """How the recipient and the actor stood towards each other when the act happened."""

    blocked: bool = False  # either blocked the other
    muted: bool = False  # the recipient muted the actor
    followed: bool = False  # the recipient follows the actor


@dataclass(frozen=True)
class PreferenceChange:
    """One PreferencesUpdated as the projection keeps it: from `since`, `preferences` held; before, `previous`."""

    since: datetime
    preferences: Preferences
    previous: Preferences


def preferences_at(
    moment: datetime,
    current: Preferences | None,
    current_since: datetime | None,
    latest_change: PreferenceChange | None,
    first_change: PreferenceChange | None,
) -> Preferences:
    """The preferences that held at `moment`. `current` is what the user has set now (None: never set) and
    `current_since` when they set it (None for preferences set before changes were events); `latest_change` the
    newest change projected at or before `moment`, `first_change` the oldest projected at all.

    Current preferences set at or before the moment held then: no later change exists, whatever the history has
    projected yet. Otherwise the history decides; before its first change, what that change replaced held; with
    no history at all (preferences set before changes were events), the stored ones are taken to have held since
    the beginning."""
    if current is None:
        return Preferences()
    if current_since is not None and as_utc(current_since) <= as_utc(moment):
        return current
    if latest_change is not None:
        return latest_change.preferences
    if first_change is not None:
        return first_change.previous
    return current


def wanted(act: Act, preferences: Preferences, standing: Standing) -> bool:
    """Whether the recipient is told: never of their own act, nor of someone blocked either way or muted, nor
    of a kind they turned off, nor (if they asked so) of someone they do not follow."""
    if act.actor_id == act.recipient_id or standing.blocked or standing.muted:
        return False
    if act.kind in preferences.disabled_kinds:
        return False
    return standing.followed or not preferences.only_following


def event_time(stamp: Timestamp) -> datetime:
    """When an event happened, to the millisecond (naive UTC, as `Timestamp.ToDatetime` gives it): what the tables
    keep of a time, so that an act read back is equal to the act written. Follows carry microseconds (the graph
    settles a follow and its unfollow by their times): kept whole, a follow never found itself the newest act of
    its group and never showed."""
    moment = stamp.ToDatetime()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def for_follow(event: graph_pb2.GraphEvent, window: timedelta = FOLLOW_WINDOW) -> list[Act]:
    follow = event.user_followed
    at = event_time(event.occurred_at)
    return [Act(follow.followee_id, NEW_FOLLOWER, follow.follower_id, at, follow_window=window)]


def retraction_of_unfollow(
    event: graph_pb2.GraphEvent, followed_at: datetime | None, window: timedelta = FOLLOW_WINDOW
) -> Retraction:
    """The follower leaves the window of followers their follow (at `followed_at`) joined; with no follow known,
    the one group of followers from before follows had windows."""
    unfollow = event.user_unfollowed
    start = follow_window_start(followed_at, window) if followed_at is not None else None
    return Retraction(unfollow.followee_id, group_key(NEW_FOLLOWER, window_start=start), unfollow.follower_id)


def for_post(event: post_pb2.PostEvent, max_mentions: int) -> list[Act]:
    """A REPLY for the parent's author, and a MENTION for each of the first `max_mentions` others the post names
    (a post cannot page a crowd); the parent's author hears of it once, as a reply; nobody of their own post. Quotes
    need the quoted post's author, which the event does not carry: see `for_quote`."""
    post = event.post_created.post
    at = event_time(event.occurred_at)
    replied_to = [post.in_reply_to_user_id] if post.in_reply_to_user_id not in (0, post.author_id) else []
    mentioned = [
        u for u in dict.fromkeys(m.user_id for m in post.mentions) if u not in (0, post.author_id, *replied_to)
    ]
    return [Act(user_id, REPLY, post.author_id, at, post.post_id, post.text) for user_id in replied_to] + [
        Act(user_id, MENTION, post.author_id, at, post.post_id, post.text) for user_id in mentioned[:max_mentions]
    ]


def for_quote(quoted_author_id: int, quoter_id: int, quote_post_id: int, text: str, at: datetime) -> Act:
    return Act(quoted_author_id, QUOTE, quoter_id, at, quote_post_id, text)


def for_reaction(event: post_pb2.PostEvent, post_text: str) -> Act:
    """A like or a repost, for the post's author."""
    kind = event.WhichOneof("payload")
    reaction = getattr(event, kind)
    return Act(
        reaction.author_id,
        LIKE if kind == "post_liked" else REPOST,
        reaction.user_id,
        event_time(event.occurred_at),
        reaction.post_id,
        post_text,
    )


def retraction_of_reaction(event: post_pb2.PostEvent) -> Retraction:
    """An unlike or an undone repost."""
    kind = event.WhichOneof("payload")
    reaction = getattr(event, kind)
    return Retraction(
        reaction.author_id, group_key(LIKE if kind == "post_unliked" else REPOST, reaction.post_id), reaction.user_id
    )


def groups_about_own_post(post_id: int) -> list[str]:
    """The author's groups about one of their posts, which go when the post is deleted."""
    return [group_key(LIKE, post_id), group_key(REPOST, post_id)]


def shown(act_time: datetime, group_size: int, newest_act_time: datetime | None) -> bool:
    """A feed row stands for its group while the group has members and it is the group's newest act. The
    projection keeps one row per group; this drops what can still be found for a moment: the previous row of a
    group an act just moved, or a deleted row a lagging replica brought back."""
    return group_size > 0 and newest_act_time == act_time


@dataclass(frozen=True)
class Hidden:
    """What a user dismissed (per group, up to an act's time) and cleared (everything up to a time)."""

    dismissed: dict[str, datetime] = field(default_factory=dict)
    cleared: datetime | None = None

    def hides(self, act_time: datetime, key: str) -> bool:
        """An act at or before a dismissal of its group, or before the clearing, is hidden."""
        dismissed = self.dismissed.get(key)
        return (dismissed is not None and act_time <= dismissed) or (
            self.cleared is not None and act_time <= self.cleared
        )


def notification_id(ms: int, key: str) -> str:
    """The id is the position in the recipient's list: the newest act's time and its group."""
    return f"{ms}-{key}"


# The longest group key is "mention:" or "repost:" and a 19-digit post id (a window of followers is shorter); the
# longest id adds 15 digits of milliseconds (until year 9999) and a dash. Anything longer is not an id or group this
# service gave.
MAX_GROUP_KEY_LENGTH = len("mention:") + 19
MAX_NOTIFICATION_ID_LENGTH = 15 + 1 + MAX_GROUP_KEY_LENGTH
# Ids carry the time of the act that made them, on the clock of the service that published it. One from further
# ahead of this service's clock than this was not given out yet: as a read position it would mark everything until
# then as read, and a read position only moves forward.
MAX_CLOCK_SKEW_MS = 60_000
# What a page token of ListNotifications holds: the position of the last notification of the page.
PAGE_POSITION = {"time": UNIX_MS, "group": Text(MAX_GROUP_KEY_LENGTH)}
# And one of ListNotificationActors: the last actor of the page and when they acted.
ACTOR_POSITION = {"time": UNIX_MS, "actor": ID}
_POST_GROUP_PREFIXES = tuple(prefix for kind, prefix in _PREFIX.items() if kind != NEW_FOLLOWER)


def is_group_key(value: str) -> bool:
    """Whether `value` is a group key `group_key` can make: "follow", "follow:" and a window's start in
    milliseconds, or a kind's prefix, ":" and a post id."""
    if value == _PREFIX[NEW_FOLLOWER]:
        return True
    prefix, separator, number = value.partition(":")
    if not (separator and 0 < len(number) <= 19 and number.isascii() and number.isdigit()):
        return False
    if prefix == _PREFIX[NEW_FOLLOWER]:
        return int(number) <= MAX_UNIX_MS
    return prefix in _POST_GROUP_PREFIXES


def parse_notification_id(value: str, now_ms: int | None = None) -> tuple[int, str]:
    """(milliseconds, group key); ValueError when it is not an id this service gave, or could have given by `now_ms`
    (give it to refuse ids from the future, more than MAX_CLOCK_SKEW_MS ahead)."""
    if len(value) > MAX_NOTIFICATION_ID_LENGTH:
        raise ValueError(f"an id has at most {MAX_NOTIFICATION_ID_LENGTH} characters, this one {len(value)}")
    ms, separator, key = value.partition("-")
    if not separator or not is_group_key(key) or not (ms.isascii() and ms.isdigit()) or int(ms) > MAX_UNIX_MS:
        raise ValueError("an id is milliseconds since 1970, a dash and a group key, as in 1767225600000-like:42")
    if now_ms is not None and int(ms) > now_ms + MAX_CLOCK_SKEW_MS:
        raise ValueError("it is dated in the future")
    return int(ms), key


def group_of(value: str) -> str:
    """The group of a notification id, or the value itself when it already is a group key; ValueError when it is
    neither."""
    return value if is_group_key(value) else parse_notification_id(value)[1]
