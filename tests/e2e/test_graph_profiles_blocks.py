"""Profiles, blocks, mutes and relationships over gRPC: the rules, what each change publishes, and refusals that
publish nothing."""

import grpc
import pytest

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from services.runtime.errors import error_reason
from services.runtime.topics import GRAPH_EVENTS
from tests.e2e.test_bad_input import refused
from tests.e2e.test_graph import create
from tests.helpers import end_offsets, eventually, read_topic

UNKNOWN = 987654321


def graph_offsets(system) -> dict[int, int]:
    return end_offsets(system.settings, system.settings.topic(GRAPH_EVENTS.name))


def events_about(system, *user_ids: int) -> list[tuple[object, graph_pb2.GraphEvent]]:
    """(record, decoded event) of every graph event keyed by one of these users, in log order per partition."""
    keys = {str(user_id).encode() for user_id in user_ids}
    records = read_topic(system.settings, system.settings.topic(GRAPH_EVENTS.name))
    return [(r, graph_pb2.GraphEvent.FromString(r.value)) for r in records if r.key in keys]


def follow(clients, follower: int, followee: int) -> None:
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=follower, followee_id=followee), timeout=10)


def relationship(clients, user: int, other: int) -> graph_pb2.Relationship:
    return clients.graph.GetRelationship(
        graph.GetRelationshipRequest(user_id=user, other_id=other), timeout=10
    ).relationship


def ids(users) -> list[int]:
    return [user.user_id for user in users]


def test_a_profile_update_changes_what_it_is_given_and_keeps_the_rest(clients):
    ada = create(clients, "ada")
    updated = clients.graph.UpdateProfile(
        graph.UpdateProfileRequest(user_id=ada, display_name="Ada Lovelace", bio="Poetical science 🧮"), timeout=10
    ).user
    assert (updated.display_name, updated.bio) == ("Ada Lovelace", "Poetical science 🧮")
    assert updated.HasField("update_time")
    cleared = clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=ada, bio=""), timeout=10).user
    assert (cleared.display_name, cleared.bio) == ("Ada Lovelace", "")
    assert clients.graph.GetUser(graph.GetUserRequest(user_id=ada), timeout=10).user == cleared


def test_a_profile_update_publishes_profile_updated_with_the_whole_user_keyed_by_the_user(system, clients):
    ada = create(clients, "ada")
    updated = clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=ada, bio="hello"), timeout=10).user
    [(record, event)] = [(r, e) for r, e in events_about(system, ada) if e.WhichOneof("payload") == "profile_updated"]
    assert dict(record.headers)["chirp-event-type"] == b"chirp.graph.v1.ProfileUpdated"
    assert event.profile_updated.user == updated
    assert event.occurred_at == updated.update_time


def test_a_bio_over_160_characters_is_invalid_and_changes_and_publishes_nothing(system, clients):
    ada = create(clients, "ada")
    before = graph_offsets(system)
    error = refused(
        clients.graph.UpdateProfile, graph.UpdateProfileRequest(user_id=ada, display_name="Ada", bio="x" * 161)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "BIO_TOO_LONG"
    assert "160" in error.details()
    assert graph_offsets(system) == before
    user = clients.graph.GetUser(graph.GetUserRequest(user_id=ada), timeout=10).user
    assert user.bio == "" and user.display_name != "Ada"


@pytest.mark.parametrize(
    "call",
    [
        lambda c, known: (c.graph.UpdateProfile, graph.UpdateProfileRequest(user_id=UNKNOWN, bio="hi")),
        lambda c, known: (c.graph.BlockUser, graph.BlockUserRequest(blocker_id=known, blocked_id=UNKNOWN)),
        lambda c, known: (c.graph.BlockUser, graph.BlockUserRequest(blocker_id=UNKNOWN, blocked_id=known)),
        lambda c, known: (c.graph.UnblockUser, graph.UnblockUserRequest(blocker_id=known, blocked_id=UNKNOWN)),
        lambda c, known: (c.graph.MuteUser, graph.MuteUserRequest(muter_id=known, muted_id=UNKNOWN)),
        lambda c, known: (c.graph.UnmuteUser, graph.UnmuteUserRequest(muter_id=UNKNOWN, muted_id=known)),
        lambda c, known: (c.graph.GetRelationship, graph.GetRelationshipRequest(user_id=known, other_id=UNKNOWN)),
    ],
    ids=["update-profile", "block", "block-by", "unblock", "mute", "unmute", "get-relationship"],
)
def test_naming_a_user_that_does_not_exist_is_not_found_and_publishes_nothing(system, clients, call):
    rpc, request = call(clients, create(clients, "known"))
    before = graph_offsets(system)
    error = refused(rpc, request)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(error) == "USER_NOT_FOUND"
    assert f"no user with id {UNKNOWN}" in error.details()
    assert graph_offsets(system) == before


@pytest.mark.parametrize(
    ("call", "reason", "words"),
    [
        (
            lambda c, u: (c.graph.BlockUser, graph.BlockUserRequest(blocker_id=u, blocked_id=u)),
            "SELF_BLOCK",
            "cannot block",
        ),
        (
            lambda c, u: (c.graph.UnblockUser, graph.UnblockUserRequest(blocker_id=u, blocked_id=u)),
            "SELF_BLOCK",
            "cannot block",
        ),
        (lambda c, u: (c.graph.MuteUser, graph.MuteUserRequest(muter_id=u, muted_id=u)), "SELF_MUTE", "cannot mute"),
        (
            lambda c, u: (c.graph.UnmuteUser, graph.UnmuteUserRequest(muter_id=u, muted_id=u)),
            "SELF_MUTE",
            "cannot mute",
        ),
    ],
    ids=["block", "unblock", "mute", "unmute"],
)
def test_blocking_or_muting_yourself_is_invalid_and_publishes_nothing(system, clients, call, reason, words):
    rpc, request = call(clients, create(clients, "self"))
    before = graph_offsets(system)
    error = refused(rpc, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == reason
    assert words in error.details()
    assert graph_offsets(system) == before


def test_a_block_removes_the_follows_both_ways_and_the_counts_agree_with_the_lists(clients):
    ada, bob, cat = create(clients, "ada"), create(clients, "bob"), create(clients, "cat")
    follow(clients, ada, bob)
    follow(clients, bob, ada)
    follow(clients, cat, ada)
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)

    def lists(user: int) -> tuple[list[int], list[int]]:
        followers = clients.graph.ListFollowers(graph.ListFollowersRequest(user_id=user), timeout=10).users
        following = clients.graph.ListFollowing(graph.ListFollowingRequest(user_id=user), timeout=10).users
        return ids(followers), ids(following)

    assert lists(ada) == ([cat], [])
    assert lists(bob) == ([], [])

    def counts(user: int) -> tuple[int, int]:
        stats = clients.graph.GetUser(graph.GetUserRequest(user_id=user), timeout=10).stats
        return stats.follower_count, stats.following_count

    for user in (ada, bob, cat):
        followers, following = lists(user)
        # Counts trail the edges by the count projection's lag.
        expected = (len(followers), len(following))
        eventually(lambda user=user, expected=expected: counts(user) == expected, timeout=15)
    assert relationship(clients, ada, bob) == graph_pb2.Relationship(blocking=True)
    assert relationship(clients, bob, ada) == graph_pb2.Relationship(blocked_by=True)


def test_a_block_publishes_an_unfollow_for_each_removed_follow_before_user_blocked(system, clients):
    ada, bob = create(clients, "ada"), create(clients, "bob")
    follow(clients, ada, bob)
    follow(clients, bob, ada)
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    found = [(r, e, e.WhichOneof("payload")) for r, e in events_about(system, ada, bob)]
    [(blocked_record, blocked)] = [(r, e) for r, e, kind in found if kind == "user_blocked"]
    assert (blocked.user_blocked.blocker_id, blocked.user_blocked.blocked_id) == (ada, bob)
    assert blocked_record.key == str(ada).encode()
    unfollows = {
        (e.user_unfollowed.follower_id, e.user_unfollowed.followee_id): r
        for r, e, kind in found
        if kind == "user_unfollowed"
    }
    assert set(unfollows) == {(ada, bob), (bob, ada)}
    # Each unfollow stays keyed by its follower (so it follows that follow in order), and came first.
    assert unfollows[(bob, ada)].key == str(bob).encode()
    assert unfollows[(ada, bob)].offset < blocked_record.offset
    assert all(r.timestamp <= blocked_record.timestamp for r in unfollows.values())


def test_a_blocked_user_cannot_follow_the_blocker_and_nothing_is_published(system, clients):
    ada, bob = create(clients, "ada"), create(clients, "bob")
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    before = graph_offsets(system)
    error = refused(clients.graph.FollowUser, graph.FollowUserRequest(follower_id=bob, followee_id=ada))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "BLOCKED_BY_USER"
    assert "has blocked you" in error.details()
    assert graph_offsets(system) == before
    assert clients.graph.ListFollowers(graph.ListFollowersRequest(user_id=ada), timeout=10).users == []


def test_the_blocker_must_unblock_before_following_and_unblocking_brings_no_follow_back(system, clients):
    ada, bob = create(clients, "ada"), create(clients, "bob")
    follow(clients, bob, ada)
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    before = graph_offsets(system)
    error = refused(clients.graph.FollowUser, graph.FollowUserRequest(follower_id=ada, followee_id=bob))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "USER_BLOCKED"
    assert graph_offsets(system) == before

    clients.graph.UnblockUser(graph.UnblockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    assert relationship(clients, ada, bob) == graph_pb2.Relationship()
    follow(clients, ada, bob)
    follow(clients, bob, ada)
    assert relationship(clients, ada, bob) == graph_pb2.Relationship(following=True, followed_by=True)


def test_muting_is_private_and_leaves_follows_alone(system, clients):
    ada, bob = create(clients, "ada"), create(clients, "bob")
    follow(clients, ada, bob)
    clients.graph.MuteUser(graph.MuteUserRequest(muter_id=ada, muted_id=bob), timeout=10)
    assert relationship(clients, ada, bob) == graph_pb2.Relationship(following=True, muting=True)
    assert relationship(clients, bob, ada) == graph_pb2.Relationship(followed_by=True)
    clients.graph.UnmuteUser(graph.UnmuteUserRequest(muter_id=ada, muted_id=bob), timeout=10)
    assert relationship(clients, ada, bob) == graph_pb2.Relationship(following=True)
    kinds = [
        (r.key, e.WhichOneof("payload")) for r, e in events_about(system, ada) if "mute" in e.WhichOneof("payload")
    ]
    assert kinds == [(str(ada).encode(), "user_muted"), (str(ada).encode(), "user_unmuted")]


def test_undoing_what_was_never_done_is_accepted_and_publishes_nothing(system, clients):
    ada, bob = create(clients, "ada"), create(clients, "bob")
    before = graph_offsets(system)
    clients.graph.UnblockUser(graph.UnblockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    clients.graph.UnmuteUser(graph.UnmuteUserRequest(muter_id=ada, muted_id=bob), timeout=10)
    clients.graph.UnfollowUser(graph.UnfollowUserRequest(follower_id=ada, followee_id=bob), timeout=10)
    assert graph_offsets(system) == before
