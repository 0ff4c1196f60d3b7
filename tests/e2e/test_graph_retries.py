"""Retried mutations of the graph service (AIP-155): the same request_id and request get the first answer and
publish nothing new; the same request_id with another request is refused."""

import uuid

import grpc
import pytest

from chirp.graph.v1 import graph_service_pb2 as graph
from services.runtime.errors import error_reason
from tests.e2e.test_bad_input import refused
from tests.e2e.test_graph import create
from tests.e2e.test_graph_profiles_blocks import graph_offsets
from tests.helpers import unique_handle


def request_id() -> str:
    return f"test-{uuid.uuid4()}"


# Each case: (what must hold before, the RPC, its request), given the graph stub and two fresh users.
MUTATIONS = {
    "create-user": lambda g, a, b: ([], g.CreateUser, graph.CreateUserRequest(handle=unique_handle("new"))),
    "update-profile": lambda g, a, b: ([], g.UpdateProfile, graph.UpdateProfileRequest(user_id=a, bio="retried")),
    "follow": lambda g, a, b: ([], g.FollowUser, graph.FollowUserRequest(follower_id=a, followee_id=b)),
    "unfollow": lambda g, a, b: (
        [(g.FollowUser, graph.FollowUserRequest(follower_id=a, followee_id=b))],
        g.UnfollowUser,
        graph.UnfollowUserRequest(follower_id=a, followee_id=b),
    ),
    "block": lambda g, a, b: (
        [(g.FollowUser, graph.FollowUserRequest(follower_id=b, followee_id=a))],
        g.BlockUser,
        graph.BlockUserRequest(blocker_id=a, blocked_id=b),
    ),
    "unblock": lambda g, a, b: (
        [(g.BlockUser, graph.BlockUserRequest(blocker_id=a, blocked_id=b))],
        g.UnblockUser,
        graph.UnblockUserRequest(blocker_id=a, blocked_id=b),
    ),
    "mute": lambda g, a, b: ([], g.MuteUser, graph.MuteUserRequest(muter_id=a, muted_id=b)),
    "unmute": lambda g, a, b: (
        [(g.MuteUser, graph.MuteUserRequest(muter_id=a, muted_id=b))],
        g.UnmuteUser,
        graph.UnmuteUserRequest(muter_id=a, muted_id=b),
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_retried_mutation_returns_the_first_answer_and_publishes_nothing_new(system, clients, mutation):
    setup, rpc, request = mutation(clients.graph, create(clients, "ret_a"), create(clients, "ret_b"))
    for setup_rpc, setup_request in setup:
        setup_rpc(setup_request, timeout=10)
    request.request_id = request_id()
    before = graph_offsets(system)
    first = rpc(request, timeout=10)
    assert graph_offsets(system) != before, "the first call publishes its event"
    after_first = graph_offsets(system)
    assert rpc(request, timeout=10) == first
    assert rpc(request, timeout=10) == first
    assert graph_offsets(system) == after_first


def test_a_retried_profile_update_answers_as_the_first_time_even_after_a_later_update(clients):
    ada = create(clients, "ada")
    first = graph.UpdateProfileRequest(user_id=ada, display_name="First", request_id=request_id())
    answered = clients.graph.UpdateProfile(first, timeout=10).user
    clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=ada, display_name="Second"), timeout=10)
    assert clients.graph.UpdateProfile(first, timeout=10).user == answered
    assert clients.graph.GetUser(graph.GetUserRequest(user_id=ada), timeout=10).user.display_name == "Second"


def test_a_request_id_reused_for_another_request_is_invalid_and_changes_and_publishes_nothing(system, clients):
    ada, bob, cat = create(clients, "ada"), create(clients, "bob"), create(clients, "cat")
    reused = request_id()
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=ada, followee_id=bob, request_id=reused), timeout=10)
    before = graph_offsets(system)
    for rpc, request in [
        (clients.graph.FollowUser, graph.FollowUserRequest(follower_id=ada, followee_id=cat, request_id=reused)),
        (clients.graph.BlockUser, graph.BlockUserRequest(blocker_id=ada, blocked_id=bob, request_id=reused)),
    ]:
        error = refused(rpc, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(error) == "REQUEST_ID_REUSED"
        assert "different request" in error.details()
    assert graph_offsets(system) == before
    assert clients.graph.ListFollowers(graph.ListFollowersRequest(user_id=cat), timeout=10).users == []


def test_a_refused_request_does_not_use_up_its_request_id(clients):
    ada, bob = create(clients, "ada"), create(clients, "bob")
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    attempt = graph.FollowUserRequest(follower_id=bob, followee_id=ada, request_id=request_id())
    assert refused(clients.graph.FollowUser, attempt).code() == grpc.StatusCode.PERMISSION_DENIED
    clients.graph.UnblockUser(graph.UnblockUserRequest(blocker_id=ada, blocked_id=bob), timeout=10)
    clients.graph.FollowUser(attempt, timeout=10)
    followers = clients.graph.ListFollowers(graph.ListFollowersRequest(user_id=ada), timeout=10).users
    assert [u.user_id for u in followers] == [bob]
