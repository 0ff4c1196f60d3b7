"""Pure rules of notifications: who is told, how acts group, what a retraction takes back, what an id means."""

from datetime import UTC, datetime, timedelta

import pytest

from chirp.graph.v1 import graph_pb2
from chirp.post.v1 import post_pb2
from services.notification.domain import (
    FOLLOW_WINDOW,
    LIKE,
    MAX_CLOCK_SKEW_MS,
    MAX_GROUP_KEY_LENGTH,
    MAX_NOTIFICATION_ID_LENGTH,
    MENTION,
    NEW_FOLLOWER,
    REPLY,
    REPOST,
    Act,
    PreferenceChange,
    Preferences,
    Retraction,
    Standing,
    follow_window_start,
    for_follow,
    for_post,
    for_reaction,
    group_key,
    group_of,
    is_group_key,
    notification_id,
    parse_notification_id,
    preferences_at,
    retraction_of_reaction,
    retraction_of_unfollow,
    shown,
    wanted,
)
from services.runtime.clock import MAX_UNIX_MS, ms_of
from services.runtime.envelopes import event_id_for

AT = datetime(2026, 11, 21, 12, 0, 0)


def _reply(author: int, parent_author: int, mentioned: list[int]) -> post_pb2.PostEvent:
    post = post_pb2.Post(
        post_id=20,
        author_id=author,
        text="re",
        in_reply_to_post_id=10,
        in_reply_to_user_id=parent_author,
        mentions=[post_pb2.Mention(user_id=u) for u in mentioned],
    )
    return post_pb2.PostEvent(event_id="e", post_created=post_pb2.PostCreated(post=post))


def test_the_parent_author_of_a_reply_is_told_once_as_a_reply_even_when_mentioned():
    acts = for_post(_reply(author=1, parent_author=2, mentioned=[2, 3]), max_mentions=10)
    assert [(a.recipient_id, a.kind) for a in acts] == [(2, REPLY), (3, MENTION)]


def test_replying_to_yourself_tells_nobody():
    assert for_post(_reply(author=1, parent_author=1, mentioned=[1]), max_mentions=10) == []


def test_the_mention_cap_counts_only_people_who_are_told():
    acts = for_post(_reply(author=1, parent_author=2, mentioned=[2, 1, *range(3, 20)]), max_mentions=10)
    assert [a.recipient_id for a in acts if a.kind == MENTION] == list(range(3, 13))


def test_likes_and_reposts_of_one_post_group_per_kind_and_post_and_followers_per_window_of_time():
    like = post_pb2.PostEvent(post_liked=post_pb2.PostLiked(post_id=5, author_id=1, user_id=2))
    repost = post_pb2.PostEvent(post_reposted=post_pb2.PostReposted(post_id=5, author_id=1, user_id=2))
    assert (for_reaction(like, "t").kind, for_reaction(like, "t").group_key) == (LIKE, "like:5")
    assert (for_reaction(repost, "t").kind, for_reaction(repost, "t").group_key) == (REPOST, "repost:5")
    assert group_key(NEW_FOLLOWER) == group_key(NEW_FOLLOWER, 99) == "follow"  # before follows had windows


def _follow_at(moment: datetime, follower: int = 2) -> graph_pb2.GraphEvent:
    event = graph_pb2.GraphEvent(user_followed=graph_pb2.UserFollowed(follower_id=follower, followee_id=1))
    event.occurred_at.FromDatetime(moment)
    return event


def test_new_followers_group_by_fixed_windows_of_twelve_hours_from_midnight_utc():
    midnight = datetime(2026, 11, 21, 0, 0, 0, tzinfo=UTC)
    noon = midnight + timedelta(hours=12)
    key = f"follow:{ms_of(midnight)}"
    assert FOLLOW_WINDOW == timedelta(hours=12)
    assert follow_window_start(midnight) == follow_window_start(noon - timedelta(milliseconds=1)) == midnight
    assert follow_window_start(noon) == noon
    assert for_follow(_follow_at(midnight + timedelta(hours=1)))[0].group_key == key
    assert for_follow(_follow_at(noon - timedelta(minutes=10)))[0].group_key == key
    assert for_follow(_follow_at(noon + timedelta(minutes=10)))[0].group_key == f"follow:{ms_of(noon)}"
    assert is_group_key(key) and is_group_key("follow")
    # The window is a parameter: an hour groups three hours of follows into three groups.
    hourly = {
        for_follow(_follow_at(midnight + timedelta(minutes=m)), timedelta(hours=1))[0].group_key for m in (5, 65, 125)
    }
    assert len(hourly) == 3


def test_an_unfollow_leaves_the_window_its_follow_joined():
    unfollow = graph_pb2.GraphEvent(user_unfollowed=graph_pb2.UserUnfollowed(follower_id=2, followee_id=1))
    followed = datetime(2026, 11, 21, 13, 0, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert retraction_of_unfollow(unfollow, followed) == Retraction(1, f"follow:{ms_of(noon)}", 2)
    assert retraction_of_unfollow(unfollow, None) == Retraction(1, "follow", 2)


OFF_LIKES = Preferences(disabled_kinds=frozenset({LIKE}))
OFF_MENTIONS = Preferences(disabled_kinds=frozenset({MENTION}))


def _at(hours: int) -> datetime:
    return datetime(2026, 11, 21, tzinfo=UTC) + timedelta(hours=hours)


def test_an_act_is_judged_by_the_preferences_of_its_time():
    first = PreferenceChange(_at(1), OFF_LIKES, Preferences())
    second = PreferenceChange(_at(3), OFF_MENTIONS, OFF_LIKES)
    # Set now (at 3): an act after that is judged by them, whatever the history has projected.
    assert preferences_at(_at(4), OFF_MENTIONS, _at(3), first, first) == OFF_MENTIONS
    # Before: the newest change at or before the act.
    assert preferences_at(_at(2), OFF_MENTIONS, _at(3), first, first) == OFF_LIKES
    # Before every change: what the first one replaced.
    assert preferences_at(_at(0), OFF_MENTIONS, _at(3), None, first) == Preferences()
    assert preferences_at(_at(0), OFF_MENTIONS, _at(3), None, second) == OFF_LIKES
    # Never set: the defaults.
    assert preferences_at(_at(0), None, None, None, None) == Preferences()


def test_preferences_set_before_changes_were_events_hold_since_the_beginning():
    assert preferences_at(_at(0), OFF_LIKES, None, None, None) == OFF_LIKES
    # ...and until the first event replaced them, which carries them as `previous`.
    change = PreferenceChange(_at(5), Preferences(), OFF_LIKES)
    assert preferences_at(_at(0), Preferences(), _at(5), None, change) == OFF_LIKES


def test_a_retraction_takes_the_actor_out_of_the_group_their_act_joined():
    unlike = post_pb2.PostEvent(post_unliked=post_pb2.PostUnliked(post_id=5, author_id=1, user_id=2))
    undo = post_pb2.PostEvent(repost_undone=post_pb2.RepostUndone(post_id=5, author_id=1, user_id=2))
    assert retraction_of_reaction(unlike) == Retraction(1, "like:5", 2)
    assert retraction_of_reaction(undo) == Retraction(1, "repost:5", 2)


@pytest.mark.parametrize(
    "act_actor, preferences, standing, told",
    [
        (2, Preferences(), Standing(), True),
        (1, Preferences(), Standing(), False),  # your own act
        (2, Preferences(), Standing(blocked=True), False),
        (2, Preferences(), Standing(muted=True), False),
        (2, Preferences(disabled_kinds=frozenset({LIKE})), Standing(), False),
        (2, Preferences(disabled_kinds=frozenset({MENTION})), Standing(), True),
        (2, Preferences(only_following=True), Standing(), False),
        (2, Preferences(only_following=True), Standing(followed=True), True),
        (2, Preferences(only_following=True), Standing(followed=True, muted=True), False),
    ],
)
def test_who_is_told(act_actor, preferences, standing, told):
    assert wanted(Act(1, LIKE, act_actor, AT, 5), preferences, standing) is told


def test_a_group_shows_where_its_newest_act_is_and_nowhere_once_empty():
    later = AT + timedelta(seconds=1)
    assert shown(later, 2, later)
    assert not shown(AT, 2, later)
    assert not shown(AT, 0, None)


def test_a_notification_id_is_a_position_and_names_its_group():
    value = notification_id(1_763_726_400_000, "like:5")
    assert parse_notification_id(value) == (1_763_726_400_000, "like:5")
    assert group_of(value) == group_of("like:5") == "like:5"
    assert group_of(notification_id(1, "follow")) == "follow"
    for bad in ("", "like:5", "x-like:5", "12-"):
        with pytest.raises(ValueError):
            parse_notification_id(bad)


NOW_MS = 1_767_225_600_000


@pytest.mark.parametrize(
    "bad",
    [
        "12-nonsense",
        "12-like:",
        "12-like:x1",
        "12-like:-5",
        "12-follow:x5",
        "12-follow:" + "9" * 19,  # a window after the year 9999
        "12-like:" + "1" * 20,
        "١٢-like:5",  # Arabic-Indic digits are digits to str.isdigit, not to us
        "12-like:٥",
        f"{MAX_UNIX_MS + 1}-like:5",
        "9" * 30 + "-like:5",
        "1-like:5" + "\0",
        "1-" + "x" * 3_900_000,
    ],
)
def test_a_notification_id_is_a_time_a_dash_and_a_group_key_nothing_else(bad):
    with pytest.raises(ValueError):
        parse_notification_id(bad)
    with pytest.raises(ValueError):
        group_of(bad)


def test_the_longest_ids_and_group_keys_there_can_be_parse():
    longest = notification_id(MAX_UNIX_MS, group_key(MENTION, 2**63 - 1))
    assert len(longest) == MAX_NOTIFICATION_ID_LENGTH
    assert parse_notification_id(longest) == (MAX_UNIX_MS, f"mention:{2**63 - 1}")
    assert len(group_key(REPOST, 2**63 - 1)) <= MAX_GROUP_KEY_LENGTH
    for kind in (NEW_FOLLOWER, MENTION, REPLY, REPOST, LIKE):
        assert is_group_key(group_key(kind, 123))
    assert not is_group_key("like") and not is_group_key("") and not is_group_key("like:5-3")


def test_an_id_from_the_future_is_refused_beyond_a_little_clock_skew():
    assert parse_notification_id(f"{NOW_MS}-like:5", NOW_MS) == (NOW_MS, "like:5")
    assert parse_notification_id(f"{NOW_MS + MAX_CLOCK_SKEW_MS}-like:5", NOW_MS)[0] == NOW_MS + MAX_CLOCK_SKEW_MS
    with pytest.raises(ValueError, match="future"):
        parse_notification_id(f"{NOW_MS + MAX_CLOCK_SKEW_MS + 1}-like:5", NOW_MS)
    with pytest.raises(ValueError, match="future"):
        parse_notification_id("253402300799999-like:5", NOW_MS)  # the year 9999
    with pytest.raises(ValueError, match="at most"):
        parse_notification_id("1-like:5" + "5" * 100, NOW_MS)


def _post_event(author: int, mentioned: list[int]) -> post_pb2.PostEvent:
    post = post_pb2.Post(
        post_id=10, author_id=author, text="hi", mentions=[post_pb2.Mention(user_id=u) for u in mentioned]
    )
    return post_pb2.PostEvent(event_id=event_id_for("post-created", 10), post_created=post_pb2.PostCreated(post=post))


def test_mentioned_users_are_notified_once_each_and_never_the_author():
    notes = for_post(_post_event(author=1, mentioned=[2, 1, 3, 2]), max_mentions=10)
    assert [(n.recipient_id, n.kind, n.actor_id) for n in notes] == [(2, MENTION, 1), (3, MENTION, 1)]


def test_a_redelivered_follow_gives_the_same_notification():
    event = graph_pb2.GraphEvent(event_id="e1", user_followed=graph_pb2.UserFollowed(follower_id=1, followee_id=2))
    assert for_follow(event) == for_follow(event)
    assert for_follow(event)[0].recipient_id == 2


def test_only_the_first_mentioned_users_up_to_the_limit_are_notified():
    notes = for_post(_post_event(author=1, mentioned=list(range(2, 20))), max_mentions=10)
    assert [n.recipient_id for n in notes] == list(range(2, 12))


def test_an_act_is_timed_to_the_millisecond_the_tables_keep_though_a_follow_carries_microseconds():
    """The graph times follows to the microsecond; the notification tables keep milliseconds. An act timed finer than
    its stored rows never equalled its own row read back, so a follow never stood for its group and never showed."""
    followed = _follow_at(datetime(2026, 11, 21, 9, 30, 0, 123456, tzinfo=UTC))
    assert for_follow(followed)[0].create_time == datetime(2026, 11, 21, 9, 30, 0, 123000)
    liked = post_pb2.PostEvent(post_liked=post_pb2.PostLiked(post_id=7, author_id=1, user_id=2))
    liked.occurred_at.FromMicroseconds(1_795_000_000_123_456)
    assert for_reaction(liked, "").create_time.microsecond == 123000
