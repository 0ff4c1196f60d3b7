"""Refusals: the right status, a message naming the rule, and nothing written to the log."""

import asyncio
import base64
import json
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as notification
from chirp.post.v1 import post_service_pb2 as post
from chirp.post.v1 import post_service_pb2_grpc
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli.launcher import free_port
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import MAX_UNIX_MS, now_ms
from services.runtime.errors import error_reason
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from tests.helpers import end_offsets, eventually, unique_handle


@pytest.fixture
def author(clients):
    return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("author"))).user


def refused(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=10)
    return raised.value


@pytest.mark.parametrize(
    ("text", "reason", "words"),
    [
        ("x" * 141, "TEXT_TOO_LONG", "at most 140 characters; this one has 141"),
        ("", "TEXT_EMPTY", "needs some text"),
        (" \n\t ", "TEXT_EMPTY", "needs some text"),
    ],
)
def test_a_post_breaking_a_text_rule_is_invalid_and_publishes_nothing(system, clients, author, text, reason, words):
    topic = system.settings.topic(POST_EVENTS.name)
    before = end_offsets(system.settings, topic)
    error = refused(clients.post.CreatePost, post.CreatePostRequest(author_id=author.user_id, text=text))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in error.details()
    assert error_reason(error) == reason
    assert end_offsets(system.settings, topic) == before


def test_a_post_of_exactly_140_characters_is_accepted(clients, author):
    text = "é" * 139 + "🙂"
    created = clients.post.CreatePost(post.CreatePostRequest(author_id=author.user_id, text=text), timeout=10).post
    assert created.text == text


def test_a_post_by_an_unknown_author_is_not_found_and_publishes_nothing(system, clients):
    topic = system.settings.topic(POST_EVENTS.name)
    before = end_offsets(system.settings, topic)
    error = refused(clients.post.CreatePost, post.CreatePostRequest(author_id=424242, text="hello"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "no user with id 424242" in error.details()
    assert end_offsets(system.settings, topic) == before


def test_following_an_unknown_user_is_not_found(system, clients, author):
    topic = system.settings.topic(GRAPH_EVENTS.name)
    before = end_offsets(system.settings, topic)
    error = refused(clients.graph.FollowUser, graph.FollowUserRequest(follower_id=author.user_id, followee_id=99))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(error) == "USER_NOT_FOUND"
    assert end_offsets(system.settings, topic) == before


def test_a_taken_handle_is_already_exists_whatever_its_case(system, clients, author):
    topic = system.settings.topic(GRAPH_EVENTS.name)
    before = end_offsets(system.settings, topic)
    error = refused(clients.graph.CreateUser, graph.CreateUserRequest(handle=author.handle.upper()))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert f"@{author.handle.upper()} is taken" in error.details()
    assert end_offsets(system.settings, topic) == before


def test_following_yourself_is_refused(system, clients, author):
    topic = system.settings.topic(GRAPH_EVENTS.name)
    before = end_offsets(system.settings, topic)
    error = refused(
        clients.graph.FollowUser, graph.FollowUserRequest(follower_id=author.user_id, followee_id=author.user_id)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot follow" in error.details()
    assert end_offsets(system.settings, topic) == before


@pytest.mark.parametrize("handle", ["", "has space", "sixteen_chars_xx", "ünïcode", "dash-ed"])
def test_a_malformed_handle_is_invalid(clients, handle):
    error = refused(clients.graph.CreateUser, graph.CreateUserRequest(handle=handle))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "HANDLE_INVALID"


def test_a_page_token_that_was_never_issued_is_invalid(clients, author):
    error = refused(
        clients.graph.ListFollowers, graph.ListFollowersRequest(user_id=author.user_id, page_token="garbage!")
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "PAGE_TOKEN_INVALID"


@pytest.mark.parametrize("read", ["timeline", "notification"])
def test_reading_the_timeline_or_notifications_of_a_user_that_does_not_exist_is_not_found(clients, read):
    if read == "timeline":
        error = refused(clients.timeline.GetHomeTimeline, timeline.GetHomeTimelineRequest(user_id=31337))
    else:
        error = refused(clients.notification.ListNotifications, notification.ListNotificationsRequest(user_id=31337))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(error) == "USER_NOT_FOUND"


def test_a_brand_new_account_reads_an_empty_timeline_not_an_error(clients):
    user = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("newbie")), timeout=10).user
    page = clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=user.user_id), timeout=10)
    assert list(page.posts) == [] and page.next_page_token == ""


# ---------------------------------------------------------------------------------------------------------------
# Bad input, everywhere (issue 10): each a request a new user sent that was answered INTERNAL, UNAVAILABLE or OK.


def forged(position) -> str:
    """A page token as a client can forge one: url-safe base64 of any JSON."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def reason_and_code(error: grpc.RpcError) -> tuple[str | None, grpc.StatusCode]:
    return error_reason(error), error.code()


@pytest.fixture
def post_of(clients, author):
    return clients.post.CreatePost(post.CreatePostRequest(author_id=author.user_id, text="a thread"), timeout=10).post


# Each paged RPC: the client that calls it, its request, whose page it asks for, and the keys of its tokens.
PAGED = {
    "ListFollowers": ("graph", graph.ListFollowersRequest, "user_id", ("after",)),
    "ListFollowing": ("graph", graph.ListFollowingRequest, "user_id", ("after",)),
    "GetThread": ("post", post.GetThreadRequest, "post_id", ("after",)),
    "GetHomeTimeline": ("timeline", timeline.GetHomeTimelineRequest, "user_id", ("before",)),
    "GetUserTimeline": ("timeline", timeline.GetUserTimelineRequest, "user_id", ("before",)),
    "ListNotifications": ("notification", notification.ListNotificationsRequest, "user_id", ("time", "group")),
    "ListNotificationActors": (
        "notification",
        lambda **fields: notification.ListNotificationActorsRequest(notification_id="follow", **fields),
        "user_id",
        ("time", "actor"),
    ),
}
WRONG_VALUES = ["12", 1.5, True, None, [1], {"a": 1}, -1, 10**20, 2**63, "x" * 10_000]


@pytest.mark.parametrize("rpc", PAGED)
@pytest.mark.parametrize("value", WRONG_VALUES, ids=lambda v: repr(v)[:12])
def test_a_forged_page_token_with_the_right_keys_but_wrong_values_is_invalid_argument(
    clients, author, post_of, rpc, value
):
    service, request_type, subject, keys = PAGED[rpc]
    call = getattr(getattr(clients, service), rpc)
    page_of = {"post_id": post_of.post_id} if subject == "post_id" else {"user_id": author.user_id}
    # Every key wrong, and only the first (the others as a real token has them).
    fine = {"after": 0, "before": 2**62, "time": now_ms(), "group": "follow", "actor": 1}
    for token in (
        forged({key: value for key in keys}),
        forged({key: value if i == 0 else fine[key] for i, key in enumerate(keys)}),
    ):
        error = refused(call, request_type(page_token=token, **page_of))
        assert reason_and_code(error) == ("PAGE_TOKEN_INVALID", grpc.StatusCode.INVALID_ARGUMENT), token


def test_a_page_token_time_of_10_to_the_20_is_invalid_argument_not_try_again(clients, author):
    token = forged({"time": 10**20, "group": "follow"})
    error = refused(
        clients.notification.ListNotifications,
        notification.ListNotificationsRequest(user_id=author.user_id, page_token=token),
    )
    assert reason_and_code(error) == ("PAGE_TOKEN_INVALID", grpc.StatusCode.INVALID_ARGUMENT)


@pytest.mark.parametrize("handle", ["", " ", "@", "x" * 100_000, "ada\0", "a" * 16])
def test_resolving_what_cannot_be_a_handle_is_invalid_argument_with_a_short_message(clients, handle):
    error = refused(clients.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle))
    assert reason_and_code(error) == ("HANDLE_INVALID", grpc.StatusCode.INVALID_ARGUMENT)
    assert len(error.details()) <= 300


def test_a_post_mentioning_a_handle_too_long_to_exist_is_still_published(clients, author):
    created = clients.post.CreatePost(
        post.CreatePostRequest(author_id=author.user_id, text="hi @abcdefghijklmnopqrst"), timeout=10
    ).post
    assert [(m.handle, m.user_id) for m in created.mentions] == [("abcdefghijklmnopqrst", 0)]


@pytest.mark.parametrize("rpc", ["CreateUser", "ResolveHandle"])
def test_an_error_quotes_only_a_short_prefix_of_huge_input(clients, rpc):
    handle = "é" * 100_000
    if rpc == "CreateUser":
        error = refused(clients.graph.CreateUser, graph.CreateUserRequest(handle=handle))
    else:
        error = refused(clients.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(error.details()) <= 300 and "use 1 to 15 letters" in error.details()
    trailer = sum(len(key) + len(value) for key, value in error.trailing_metadata())
    assert trailer < 4096, trailer


def followed_by_someone(clients, user) -> notification_pb2.Notification:
    """The new-follower notification `user` gets once someone follows them."""
    fan = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("fan")), timeout=10).user
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=fan.user_id, followee_id=user.user_id), timeout=10)
    request = notification.ListNotificationsRequest(user_id=user.user_id)
    return eventually(lambda: list(clients.notification.ListNotifications(request, timeout=10).notifications), 30)[0]


def test_mark_read_refuses_an_id_from_the_future_so_the_read_position_is_not_frozen(clients, author):
    newest = followed_by_someone(clients, author)
    for future in (f"{MAX_UNIX_MS}-follow", f"{now_ms() + 3_600_000}-{newest.group_key}"):
        error = refused(
            clients.notification.MarkRead, notification.MarkReadRequest(user_id=author.user_id, notification_id=future)
        )
        assert reason_and_code(error) == ("NOTIFICATION_ID_INVALID", grpc.StatusCode.INVALID_ARGUMENT)
        assert "future" in error.details()
    marked = clients.notification.MarkRead(
        notification.MarkReadRequest(user_id=author.user_id, notification_id=newest.notification_id), timeout=10
    )
    assert marked.read_up_to == newest.notification_id


def test_mark_read_refuses_an_id_longer_than_any_notification_id(clients, author):
    error = refused(
        clients.notification.MarkRead,
        notification.MarkReadRequest(user_id=author.user_id, notification_id="1-like:1" + "1" * 3_900_000),
    )
    assert reason_and_code(error) == ("NOTIFICATION_ID_INVALID", grpc.StatusCode.INVALID_ARGUMENT)
    assert len(error.details()) <= 300


def test_mark_read_and_preferences_of_a_user_that_does_not_exist_are_not_found_and_store_nothing(system, clients):
    nobody = 777_000_001
    calls = [
        (clients.notification.MarkRead, notification.MarkReadRequest(user_id=nobody, notification_id="1-like:1")),
        (clients.notification.MarkRead, notification.MarkReadRequest(user_id=nobody)),
        (
            clients.notification.UpdatePreferences,
            notification.UpdatePreferencesRequest(
                user_id=nobody, preferences=notification_pb2.NotificationPreferences(only_following=True)
            ),
        ),
        (clients.notification.GetPreferences, notification.GetPreferencesRequest(user_id=nobody)),
        (clients.notification.GetUnreadCount, notification.GetUnreadCountRequest(user_id=nobody)),
    ]
    for call, request in calls:
        assert reason_and_code(refused(call, request)) == ("USER_NOT_FOUND", grpc.StatusCode.NOT_FOUND), request
    keyspace = system.settings.keyspace("notification")
    for table in ("read_positions", "preferences"):
        assert cql(system.settings, f"SELECT * FROM {keyspace}.{table} WHERE user_id = ?", (nobody,)) == []


def test_an_undefined_notification_kind_is_invalid_argument(clients, author):
    error = refused(
        clients.notification.ListNotifications, notification.ListNotificationsRequest(user_id=author.user_id, kind=99)
    )
    assert reason_and_code(error) == ("ENUM_VALUE_INVALID", grpc.StatusCode.INVALID_ARGUMENT)
    assert "kind is 99" in error.details()
    error = refused(
        clients.notification.UpdatePreferences,
        notification.UpdatePreferencesRequest(
            user_id=author.user_id, preferences=notification_pb2.NotificationPreferences(disabled_kinds=[1, 99])
        ),
    )
    assert reason_and_code(error) == ("ENUM_VALUE_INVALID", grpc.StatusCode.INVALID_ARGUMENT)


def test_notification_actors_page_past_any_page_size(clients, author, post_of):
    likers = [
        clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("liker")), timeout=10).user
        for _ in range(5)
    ]
    for liker in likers:
        clients.post.LikePost(post.LikePostRequest(post_id=post_of.post_id, user_id=liker.user_id), timeout=10)
    group = f"like:{post_of.post_id}"

    def actors(token: str = "", size: int = 2):
        request = notification.ListNotificationActorsRequest(
            user_id=author.user_id, notification_id=group, page_size=size, page_token=token
        )
        return clients.notification.ListNotificationActors(request, timeout=10)

    eventually(lambda: len(actors(size=100).actors) == 5, timeout=30)
    pages, token = [], ""
    while True:
        page = actors(token)
        pages.append([a.user_id for a in page.actors])
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [u for p in pages for u in p] == [a.user_id for a in actors(size=100).actors]
    assert sorted(u for p in pages for u in p) == sorted(liker.user_id for liker in likers)
    for bad in ("", "nonsense", "1-" + "x" * 100, f"like:{post_of.post_id}" + "0" * 30):
        error = refused(
            clients.notification.ListNotificationActors,
            notification.ListNotificationActorsRequest(user_id=author.user_id, notification_id=bad),
        )
        assert reason_and_code(error) == ("NOTIFICATION_ID_INVALID", grpc.StatusCode.INVALID_ARGUMENT), bad


def test_a_thread_deeper_than_100_says_its_ancestors_are_truncated(clients):
    writer = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("deep")), timeout=10).user
    chain = [clients.post.CreatePost(post.CreatePostRequest(author_id=writer.user_id, text="0"), timeout=10).post]
    for depth in range(1, 102):
        request = post.CreatePostRequest(
            author_id=writer.user_id, text=str(depth), in_reply_to_post_id=chain[-1].post_id
        )
        chain.append(clients.post.CreatePost(request, timeout=10).post)
    deepest = clients.post.GetThread(post.GetThreadRequest(post_id=chain[101].post_id), timeout=10)
    assert [p.post_id for p in deepest.ancestors] == [p.post_id for p in chain[1:101]]
    assert deepest.ancestors_truncated
    assert deepest.ancestors[0].in_reply_to_post_id == chain[0].post_id  # where to look further up
    whole = clients.post.GetThread(post.GetThreadRequest(post_id=chain[100].post_id), timeout=10)
    assert [p.post_id for p in whole.ancestors] == [p.post_id for p in chain[:100]]
    assert not whole.ancestors_truncated


@pytest.mark.parametrize(
    ("char", "named"), [("\0", "U+0000 (NULL, a control character)"), ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)")]
)
def test_nul_and_bidi_overrides_are_refused_in_posts_names_and_bios_and_publish_nothing(
    system, clients, author, char, named
):
    graph_topic, post_topic = system.settings.topic(GRAPH_EVENTS.name), system.settings.topic(POST_EVENTS.name)
    before = end_offsets(system.settings, graph_topic), end_offsets(system.settings, post_topic)
    evil = unique_handle("evil")
    calls = [
        (clients.post.CreatePost, post.CreatePostRequest(author_id=author.user_id, text=f"hi {char}you"), "TEXT"),
        (clients.graph.CreateUser, graph.CreateUserRequest(handle=evil, display_name=f"Ada{char}"), "DISPLAY_NAME"),
        (
            clients.graph.UpdateProfile,
            graph.UpdateProfileRequest(user_id=author.user_id, display_name=char),
            "DISPLAY_NAME",
        ),
        (clients.graph.UpdateProfile, graph.UpdateProfileRequest(user_id=author.user_id, bio=f"poet{char}"), "BIO"),
    ]
    for call, request, what in calls:
        error = refused(call, request)
        assert reason_and_code(error) == (f"{what}_INVALID_CHARACTER", grpc.StatusCode.INVALID_ARGUMENT)
        assert named in error.details()
    assert (end_offsets(system.settings, graph_topic), end_offsets(system.settings, post_topic)) == before


def test_a_bio_of_one_huge_url_is_refused_though_it_counts_23(system, clients, author):
    topic = system.settings.topic(GRAPH_EVENTS.name)
    before = end_offsets(system.settings, topic)
    bio = "https://example.com/" + "a" * 4000
    error = refused(clients.graph.UpdateProfile, graph.UpdateProfileRequest(user_id=author.user_id, bio=bio))
    assert reason_and_code(error) == ("BIO_TOO_LONG", grpc.StatusCode.INVALID_ARGUMENT)
    assert "at most 1024 bytes" in error.details()
    assert end_offsets(system.settings, topic) == before


def test_the_post_rate_limit_holds_exactly_under_concurrent_calls(system, clients):
    limit, calls = 20, 60
    port = free_port()
    system.start("post", port=port, label="post-limited", env={"CHIRP_POST_RATE_LIMIT": str(limit)})
    try:
        stub = post_service_pb2_grpc.PostServiceStub(clients.channel(f"127.0.0.1:{port}"))
        user = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("burst")), timeout=10).user

        def create(n: int) -> grpc.StatusCode:
            try:
                stub.CreatePost(post.CreatePostRequest(author_id=user.user_id, text=f"post {n}"), timeout=60)
                return grpc.StatusCode.OK
            except grpc.RpcError as error:
                return error.code()

        with ThreadPoolExecutor(max_workers=calls) as pool:
            codes = Counter(pool.map(create, range(calls)))
        assert codes == {grpc.StatusCode.OK: limit, grpc.StatusCode.RESOURCE_EXHAUSTED: calls - limit}
    finally:
        system.kill("post-limited", signal.SIGTERM)


def cql(settings, statement: str, parameters: tuple) -> list[tuple]:
    async def run():
        session = await CassandraSession.connect(settings)
        try:
            return [tuple(row) for row in await session.execute(statement, parameters)]
        finally:
            session.shutdown()

    return asyncio.run(run())
