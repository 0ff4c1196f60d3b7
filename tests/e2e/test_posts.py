"""Posts beyond the first one: conversations, quotes, reposts, likes, deletion, retries and the rate limit."""

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2, post_service_pb2_grpc
from chirp.post.v1 import post_service_pb2 as pb
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli.launcher import free_port
from services.runtime.errors import error_reason
from services.runtime.topics import POST_EVENTS
from tests.helpers import end_offsets, eventually, read_topic, unique_handle


def user(clients, stem="user") -> int:
    return clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user.user_id


def write(clients, author: int, text: str = "hello", **fields) -> post_pb2.Post:
    return clients.post.CreatePost(pb.CreatePostRequest(author_id=author, text=text, **fields), timeout=10).post


def refused(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=10)
    return raised.value


@pytest.fixture
def published(system):
    """Asserts on how many records a block of code added to the post topic."""
    topic = system.settings.topic(POST_EVENTS.name)

    class Published:
        def __enter__(self):
            self.before = sum(end_offsets(system.settings, topic).values())
            return self

        def __exit__(self, *exc):
            self.count = sum(end_offsets(system.settings, topic).values()) - self.before

    return Published


def test_replies_form_a_conversation_that_a_thread_shows_in_order(clients):
    ana, ben = user(clients, "ana"), user(clients, "ben")
    root = write(clients, ana, "root")
    first = write(clients, ben, "first answer", in_reply_to_post_id=root.post_id)
    deeper = write(clients, ana, "answer to the answer", in_reply_to_post_id=first.post_id)
    second = write(clients, ana, "second answer", in_reply_to_post_id=root.post_id)
    assert (first.conversation_id, deeper.conversation_id, root.conversation_id) == (root.post_id,) * 3
    assert (first.in_reply_to_user_id, deeper.in_reply_to_user_id) == (ana, ben)

    thread = clients.post.GetThread(pb.GetThreadRequest(post_id=first.post_id), timeout=10)
    assert [p.post_id for p in thread.ancestors] == [root.post_id]
    assert thread.post.post_id == first.post_id
    assert [p.post_id for p in thread.replies] == [deeper.post_id]

    page = clients.post.GetThread(pb.GetThreadRequest(post_id=root.post_id, page_size=1), timeout=10)
    rest = clients.post.GetThread(
        pb.GetThreadRequest(post_id=root.post_id, page_size=1, page_token=page.next_page_token), timeout=10
    )
    assert [p.post_id for p in [*page.replies, *rest.replies]] == [first.post_id, second.post_id]
    assert rest.next_page_token == ""
    assert clients.post.GetPost(pb.GetPostRequest(post_id=root.post_id), timeout=10).post.stats.reply_count == 2


def test_replying_to_or_quoting_a_missing_post_is_not_found_and_publishes_nothing(clients, published):
    ana = user(clients)
    for field in ("in_reply_to_post_id", "quoted_post_id"):
        with published() as p:
            error = refused(clients.post.CreatePost, pb.CreatePostRequest(author_id=ana, text="hm", **{field: 12345}))
        assert error.code() == grpc.StatusCode.NOT_FOUND and error_reason(error) == "POST_NOT_FOUND"
        assert p.count == 0


def test_likes_and_reposts_count_once_per_user_even_when_concurrent(clients):
    author = user(clients, "author")
    post = write(clients, author)
    fans = [user(clients, "fan") for _ in range(6)]

    def react(fan: int) -> None:
        for _ in range(3):
            clients.post.LikePost(pb.LikePostRequest(post_id=post.post_id, user_id=fan), timeout=10)
            clients.post.RepostPost(pb.RepostPostRequest(post_id=post.post_id, user_id=fan), timeout=10)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(react, fans))
    stats = clients.post.GetPost(pb.GetPostRequest(post_id=post.post_id), timeout=10).post.stats
    assert (stats.like_count, stats.repost_count) == (6, 6)

    clients.post.UnlikePost(pb.UnlikePostRequest(post_id=post.post_id, user_id=fans[0]), timeout=10)
    clients.post.UnlikePost(pb.UnlikePostRequest(post_id=post.post_id, user_id=fans[0]), timeout=10)
    clients.post.UndoRepost(pb.UndoRepostRequest(post_id=post.post_id, user_id=fans[1]), timeout=10)
    stats = clients.post.GetPost(pb.GetPostRequest(post_id=post.post_id), timeout=10).post.stats
    assert (stats.like_count, stats.repost_count) == (5, 5)


def test_a_quote_embeds_the_quoted_post_and_counts_on_it(clients):
    ana, ben = user(clients), user(clients)
    original = write(clients, ana, "worth quoting")
    quote = write(clients, ben, "so true", quoted_post_id=original.post_id)
    assert quote.quoted_post_id == original.post_id
    assert clients.post.GetPost(pb.GetPostRequest(post_id=original.post_id), timeout=10).post.stats.quote_count == 1


def test_only_the_author_deletes_a_post_and_the_deletion_reaches_the_topic_and_the_timeline(system, clients, published):
    author, other = user(clients, "author"), user(clients, "other")
    post = write(clients, author, "regrettable")
    with published() as p:
        error = refused(clients.post.DeletePost, pb.DeletePostRequest(post_id=post.post_id, user_id=other))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "only the author" in error.details()
    assert p.count == 0

    def home():
        return [
            x.post_id
            for x in clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=author), timeout=10).posts
        ]

    eventually(lambda: post.post_id in home())
    with published() as p:
        clients.post.DeletePost(pb.DeletePostRequest(post_id=post.post_id, user_id=author), timeout=10)
    assert p.count == 1
    error = refused(clients.post.GetPost, pb.GetPostRequest(post_id=post.post_id))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = refused(clients.post.LikePost, pb.LikePostRequest(post_id=post.post_id, user_id=other))
    assert error.code() == grpc.StatusCode.NOT_FOUND

    events = [
        post_pb2.PostEvent.FromString(r.value)
        for r in read_topic(system.settings, system.settings.topic(POST_EVENTS.name))
    ]
    deleted = [e.post_deleted for e in events if e.WhichOneof("payload") == "post_deleted"]
    assert post_pb2.PostDeleted(post_id=post.post_id, author_id=author) in deleted
    eventually(lambda: post.post_id not in home())


def test_a_retried_request_returns_the_first_answer_and_publishes_nothing_new(clients, published):
    author = user(clients)
    request = pb.CreatePostRequest(author_id=author, text="exactly once", request_id="req-once-1")
    with published() as p:
        first = clients.post.CreatePost(request, timeout=10).post
        again = clients.post.CreatePost(request, timeout=10).post
    assert again == first and p.count == 1

    like = pb.LikePostRequest(post_id=first.post_id, user_id=author, request_id="req-like-1")
    with published() as p:
        clients.post.LikePost(like, timeout=10)
        clients.post.LikePost(like, timeout=10)
    assert p.count == 1

    reused = pb.CreatePostRequest(author_id=author, text="something else", request_id="req-once-1")
    with published() as p:
        error = refused(clients.post.CreatePost, reused)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error_reason(error) == "REQUEST_ID_REUSED"
    assert p.count == 0


def test_entities_are_stored_with_the_post_and_carried_in_its_event(system, clients):
    author, named = user(clients, "author"), unique_handle("named")
    clients.graph.CreateUser(graph.CreateUserRequest(handle=named), timeout=10)
    text = f"Ciao @{named} e @nobody_here_x! #Bologna $ACME https://example.com/a ✨"
    post = write(clients, author, text)
    stored = clients.post.GetPost(pb.GetPostRequest(post_id=post.post_id), timeout=10).post
    assert [(m.handle, m.user_id != 0) for m in stored.mentions] == [(named, True), ("nobody_here_x", False)]
    assert [(h.value, text[h.start : h.end]) for h in stored.hashtags] == [("Bologna", "#Bologna")]
    assert [c.value for c in stored.cashtags] == ["ACME"]
    assert [u.value for u in stored.urls] == ["https://example.com/a"]
    records = read_topic(system.settings, system.settings.topic(POST_EVENTS.name))
    [event] = [
        e
        for e in (post_pb2.PostEvent.FromString(r.value) for r in records)
        if e.post_created.post.post_id == post.post_id
    ]
    assert list(event.post_created.post.hashtags) == list(stored.hashtags)


def test_past_the_posting_rate_limit_a_post_is_resource_exhausted_and_publishes_nothing(system, clients, published):
    port = free_port()
    system.start("post", port=port, label="post-limited", env={"CHIRP_POST_RATE_LIMIT": "3"})
    try:
        limited = post_service_pb2_grpc.PostServiceStub(clients.channel(f"127.0.0.1:{port}"))
        author = user(clients)
        for i in range(3):
            limited.CreatePost(pb.CreatePostRequest(author_id=author, text=f"post {i}"), timeout=10)
        with published() as p:
            error = refused(limited.CreatePost, pb.CreatePostRequest(author_id=author, text="one too many"))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 3 times in 3 hours" in error.details() and error_reason(error) == "POST_RATE_LIMITED"
        assert p.count == 0
    finally:
        system.kill("post-limited")
