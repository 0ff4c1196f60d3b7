"""Pure rules of handles, follows, profiles, blocks and mutes, and the events that record them (the counts:
test_graph_counts.py)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.graph import events
from services.graph.domain import (
    Follow,
    Restriction,
    RestrictionKind,
    User,
    check_follow,
    check_may_follow,
    check_not_self,
    handle_key,
    updated_profile,
    validate_display_name,
    validate_handle,
)
from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.text import Profile

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADA = User(1, "ada", "Ada Lovelace", T0, bio="Analyst")
CLASSIC = Profile.CLASSIC


def test_handles_are_the_same_whatever_their_case():
    assert handle_key("Giulia_News") == handle_key("giulia_news")


def test_a_handle_may_be_given_with_its_at_sign():
    assert validate_handle("@ada") == "ada"


def test_a_display_name_defaults_to_the_handle_and_is_capped():
    assert validate_display_name("  ", "ada") == "ada"
    with pytest.raises(InvalidArgument):
        validate_display_name("x" * 51, "ada")


@pytest.mark.parametrize(
    ("name", "named"), [("Ada\0", "U+0000 (NULL"), ("\u202eecalevoL adA", "U+202E (RIGHT-TO-LEFT OVERRIDE)")]
)
def test_a_display_name_with_nul_or_a_bidi_override_is_refused_naming_the_character(name, named):
    with pytest.raises(InvalidArgument) as refused:
        validate_display_name(name, "ada")
    assert refused.value.reason == "DISPLAY_NAME_INVALID_CHARACTER"
    assert named in refused.value.message
    with pytest.raises(InvalidArgument):
        updated_profile(ADA, name, None, CLASSIC)


def test_a_display_name_keeps_right_to_left_text_and_its_marks():
    assert validate_display_name("\u200fעדה לאבלייס", "ada") == "\u200fעדה לאבלייס"


@pytest.mark.parametrize("handle", ["", " ", "@", "x" * 100_000, "ada\0", "ad a"])
def test_what_cannot_be_a_handle_is_refused_with_a_short_message(handle):
    with pytest.raises(InvalidArgument) as refused:
        validate_handle(handle)
    assert refused.value.reason == "HANDLE_INVALID"
    assert len(refused.value.message) <= 300


def test_nobody_follows_themselves():
    with pytest.raises(InvalidArgument) as refused:
        check_follow(1, 1)
    assert refused.value.reason == "SELF_FOLLOW"


@pytest.mark.parametrize(
    ("action", "reason"), [("block", "SELF_BLOCK"), ("mute", "SELF_MUTE"), ("follow", "SELF_FOLLOW")]
)
def test_nobody_blocks_mutes_or_follows_themselves(action, reason):
    with pytest.raises(InvalidArgument) as refused:
        check_not_self(action, 7, 7)
    assert refused.value.reason == reason
    assert f"cannot {action} or un{action} yourself" in refused.value.message


def test_a_blocked_user_is_denied_following_the_blocker():
    with pytest.raises(PermissionDenied) as refused:
        check_may_follow(ADA, blocked_by=True, blocking=False)
    assert refused.value.reason == "BLOCKED_BY_USER"
    assert "@ada has blocked you" in refused.value.message


def test_a_blocker_must_unblock_before_following():
    with pytest.raises(FailedPrecondition) as refused:
        check_may_follow(ADA, blocked_by=False, blocking=True)
    assert refused.value.reason == "USER_BLOCKED"
    assert "unblock them" in refused.value.message


def test_without_a_block_either_way_anyone_may_follow():
    check_may_follow(ADA, blocked_by=False, blocking=False)


def test_a_profile_update_changes_only_the_fields_it_is_given():
    assert updated_profile(ADA, "Countess", None, CLASSIC) == replace(ADA, display_name="Countess")
    assert updated_profile(ADA, None, "", CLASSIC) == replace(ADA, bio="")
    # Opting out of search alone is an update of its own.
    assert ADA.indexable and updated_profile(ADA, None, None, CLASSIC, False) == replace(ADA, indexable=False)


def test_a_profile_update_that_changes_nothing_is_refused():
    with pytest.raises(InvalidArgument) as refused:
        updated_profile(ADA, None, None, CLASSIC)
    assert refused.value.reason == "PROFILE_UPDATE_EMPTY"


def test_an_empty_display_name_falls_back_to_the_handle():
    assert updated_profile(ADA, "   ", None, CLASSIC).display_name == "ada"


def test_a_bio_longer_than_160_characters_is_refused():
    assert updated_profile(ADA, None, "x" * 160, CLASSIC).bio == "x" * 160
    with pytest.raises(InvalidArgument) as refused:
        updated_profile(ADA, None, "x" * 161, CLASSIC)
    assert refused.value.reason == "BIO_TOO_LONG"


def test_the_unfollow_a_block_causes_is_the_same_event_as_unfollowing_by_hand():
    follow = Follow(2, 1, T0)
    by_hand = events.user_unfollowed(follow, T0 + timedelta(minutes=5))
    by_block = events.user_unfollowed(follow, T0 + timedelta(minutes=9))
    assert by_hand.event_id == by_block.event_id


def test_repeating_a_block_or_mute_gives_the_same_event_and_each_fact_its_own_id():
    block = Restriction(RestrictionKind.BLOCK, 1, 2, T0)
    mute = replace(block, kind=RestrictionKind.MUTE)
    ids = {
        events.restricted(block).event_id,
        events.restricted(mute).event_id,
        events.restriction_lifted(block, T0).event_id,
        events.restriction_lifted(mute, T0).event_id,
        events.restricted(replace(block, since=T0 + timedelta(seconds=1))).event_id,
    }
    assert len(ids) == 5
    assert events.restricted(block) == events.restricted(block)
    assert events.restricted(block).user_blocked.blocker_id == 1
    assert events.restriction_lifted(mute, T0).user_unmuted.muted_id == 2


def test_each_profile_update_is_its_own_event_and_repeating_one_is_the_same_event():
    first = replace(ADA, update_time=T0)
    later = replace(ADA, update_time=T0 + timedelta(seconds=1))
    assert events.profile_updated(first) == events.profile_updated(first)
    assert events.profile_updated(first).event_id != events.profile_updated(later).event_id
    assert events.profile_updated(first).profile_updated.user.bio == "Analyst"


def test_a_filter_is_checked_field_by_field_and_its_expiry_must_be_a_date():
    from services.graph.domain import check_expiry, validate_filter

    known = {1, 2, 3, 4, 5}
    title, contexts, keywords = validate_filter("  Politica   oggi ", [1, 5, 1], 2, [(" elezione ", True)], known)
    assert (title, contexts, keywords) == ("Politica oggi", [1, 5], [("elezione", True)])
    for args, reason in [
        (("", [1], 2, [("a", True)]), "FILTER_TITLE_MISSING"),
        (("t", [], 2, [("a", True)]), "FILTER_CONTEXT_INVALID"),
        (("t", [9], 2, [("a", True)]), "FILTER_CONTEXT_INVALID"),
        (("t", [1], 0, [("a", True)]), "FILTER_ACTION_MISSING"),
        (("t", [1], 2, []), "FILTER_KEYWORDS_INVALID"),
        (("t", [1], 2, [("x" * 101, True)]), "FILTER_KEYWORD_TOO_LONG"),
        (("t", [1], 2, [("!!", True)]), "FILTER_KEYWORD_EMPTY"),
    ]:
        with pytest.raises(InvalidArgument) as refused:
            validate_filter(*args, known)
        assert refused.value.reason == reason
    check_expiry(1_800_000_000, 0)
    for seconds, nanos in [(-1, 0), (10**13, 0), (0, -1), (0, 10**9)]:
        with pytest.raises(InvalidArgument):
            check_expiry(seconds, nanos)
