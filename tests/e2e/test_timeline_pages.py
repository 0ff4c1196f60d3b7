"""Home timeline pages: newest first, whole posts, tokens that stay right while new posts arrive."""

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from tests.helpers import eventually, unique_handle


def test_pages_walk_the_timeline_newest_first_without_gaps_or_repeats_while_posts_arrive(clients):
    reader = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("reader")), timeout=10).user.user_id
    writer = clients.graph.CreateUser(
        graph.CreateUserRequest(handle=unique_handle("writer"), display_name="W. Riter"), timeout=10
    ).user
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=writer.user_id), timeout=10)

    def write(i):
        return clients.post.CreatePost(
            post.CreatePostRequest(author_id=writer.user_id, text=f"n.{i}"), timeout=10
        ).post.post_id

    posted = [write(i) for i in range(25)]

    def page(token=""):
        return clients.timeline.GetHomeTimeline(
            timeline.GetHomeTimelineRequest(user_id=reader, page_size=10, page_token=token), timeout=10
        )

    eventually(lambda: len(page().posts) == 10 and page().posts[0].post_id == posted[-1])
    first = page()
    newer = write(99)  # arrives above the pages already handed out
    second = page(first.next_page_token)
    third = page(second.next_page_token)
    walked = [p.post_id for p in [*first.posts, *second.posts, *third.posts]]
    assert walked == posted[::-1]
    assert third.next_page_token == ""
    item = first.posts[0]
    assert (item.author_handle, item.author_display_name, item.text) == (writer.handle, "W. Riter", "n.24")
    assert eventually(lambda: page().posts[0].post_id == newer)
