"""Timeline items are whole posts: author, text, entities, counts and repost attribution, from the timeline's own
projections."""

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from tests.helpers import eventually, unique_handle


def test_an_item_carries_its_entities_and_counts_that_follow_likes_replies_quotes_reposts_and_deletions(clients):
    def create(stem, name=""):
        return clients.graph.CreateUser(
            graph.CreateUserRequest(handle=unique_handle(stem), display_name=name), timeout=10
        ).user

    reader, author = create("hreader"), create("hauthor", "H. Author")
    fans = [create("hfan").user_id for _ in range(2)]
    clients.graph.FollowUser(
        graph.FollowUserRequest(follower_id=reader.user_id, followee_id=author.user_id), timeout=10
    )
    request = post.CreatePostRequest(
        author_id=author.user_id, text=f"hi @{reader.handle} #chirp https://example.com $ACME"
    )
    original = clients.post.CreatePost(request, timeout=10).post.post_id
    for fan in fans:
        clients.post.LikePost(post.LikePostRequest(post_id=original, user_id=fan), timeout=10)
    reply = clients.post.CreatePost(
        post.CreatePostRequest(author_id=fans[0], text="a reply", in_reply_to_post_id=original), timeout=10
    ).post.post_id
    clients.post.CreatePost(
        post.CreatePostRequest(author_id=fans[1], text="a quote", quoted_post_id=original), timeout=10
    )
    clients.post.RepostPost(post.RepostPostRequest(post_id=original, user_id=fans[1]), timeout=10)

    def item():
        page = clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=reader.user_id), timeout=10)
        return next((p for p in page.posts if p.post_id == original), None)

    def stats():
        found = item()
        s = found.stats if found else None
        return s and (s.like_count, s.reply_count, s.quote_count, s.repost_count)

    eventually(lambda: stats() == (2, 1, 1, 1))
    shown = item()
    assert (shown.author_handle, shown.author_display_name) == (author.handle, "H. Author")
    assert [(m.handle, m.user_id) for m in shown.mentions] == [(reader.handle, reader.user_id)]
    assert [h.value for h in shown.hashtags] == ["chirp"] and [c.value for c in shown.cashtags] == ["ACME"]
    assert [u.value for u in shown.urls] == ["https://example.com"]
    clients.post.UnlikePost(post.UnlikePostRequest(post_id=original, user_id=fans[0]), timeout=10)
    clients.post.DeletePost(post.DeletePostRequest(post_id=reply, user_id=fans[0]), timeout=10)
    clients.post.UndoRepost(post.UndoRepostRequest(post_id=original, user_id=fans[1]), timeout=10)
    assert eventually(lambda: stats() == (1, 0, 1, 0))


def test_pages_answered_from_memory_drop_a_deleted_post_and_show_a_new_name(clients):
    """The timeline API keeps posts and people in memory (hydration_cache.py): the log's deletions and profile
    changes reach it, though no page asks the store again."""
    reader, author = (
        clients.graph.CreateUser(
            graph.CreateUserRequest(handle=unique_handle(stem), display_name="Old"), timeout=10
        ).user
        for stem in ("mreader", "mauthor")
    )
    clients.graph.FollowUser(
        graph.FollowUserRequest(follower_id=reader.user_id, followee_id=author.user_id), timeout=10
    )
    kept, doomed = (
        clients.post.CreatePost(post.CreatePostRequest(author_id=author.user_id, text=text), timeout=10).post.post_id
        for text in ("kept", "doomed")
    )

    def page():
        request = timeline.GetHomeTimelineRequest(user_id=reader.user_id)
        return [(p.post_id, p.author_display_name) for p in clients.timeline.GetHomeTimeline(request, timeout=10).posts]

    assert eventually(lambda: page() == [(doomed, "Old"), (kept, "Old")])
    assert page() == [(doomed, "Old"), (kept, "Old")]  # the second reading: from memory
    clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=author.user_id, display_name="New"), timeout=10)
    clients.post.DeletePost(post.DeletePostRequest(post_id=doomed, user_id=author.user_id), timeout=10)
    assert eventually(lambda: page() == [(kept, "New")])
