"""Graph events honoured by home timelines: a mute hides the muted account, a block parts both users' posts."""

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from tests.helpers import eventually, unique_handle


def people(clients, *stems: str) -> list[int]:
    return [
        clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(s)), timeout=10).user.user_id
        for s in stems
    ]


def follow(clients, follower: int, followee: int) -> None:
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=follower, followee_id=followee), timeout=10)


def write(clients, author: int, text: str) -> int:
    return clients.post.CreatePost(post.CreatePostRequest(author_id=author, text=text), timeout=10).post.post_id


def home(clients, user_id: int) -> list[int]:
    page = clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=user_id, page_size=100), timeout=10)
    return [p.post_id for p in page.posts]


def test_a_mute_hides_the_muted_account_and_an_unmute_shows_its_posts_again(clients):
    reader, loud, quiet = people(clients, "reader", "loud", "quiet")
    follow(clients, reader, loud)
    follow(clients, reader, quiet)
    before = write(clients, loud, "before the mute")
    calm = write(clients, quiet, "not muted")
    eventually(lambda: home(clients, reader) == [calm, before])
    clients.graph.MuteUser(graph.MuteUserRequest(muter_id=reader, muted_id=loud), timeout=10)
    eventually(lambda: home(clients, reader) == [calm])
    during = write(clients, loud, "while muted")
    later = write(clients, quiet, "after it")
    eventually(lambda: home(clients, reader) == [later, calm])
    assert during not in home(clients, reader)
    # Muting hides only from the muter: the author still sees their own posts.
    assert eventually(lambda: home(clients, loud) == [during, before])
    clients.graph.UnmuteUser(graph.UnmuteUserRequest(muter_id=reader, muted_id=loud), timeout=10)
    assert eventually(lambda: home(clients, reader) == [later, during, calm, before])


def test_a_block_removes_each_users_posts_from_the_others_home_timeline(clients):
    blocker, blocked = people(clients, "blockr", "blockd")
    follow(clients, blocker, blocked)
    follow(clients, blocked, blocker)
    mine, theirs = write(clients, blocker, "mine"), write(clients, blocked, "theirs")
    eventually(lambda: home(clients, blocker) == [theirs, mine] and home(clients, blocked) == [theirs, mine])
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=blocker, blocked_id=blocked), timeout=10)
    eventually(lambda: home(clients, blocker) == [mine] and home(clients, blocked) == [theirs])
    again = write(clients, blocker, "after the block")
    assert eventually(lambda: home(clients, blocker) == [again, mine])
    assert home(clients, blocked) == [theirs]


def test_a_reply_reaches_only_followers_who_also_follow_the_account_it_answers(clients):
    both, only_author, asked, author = people(clients, "both", "onlya", "asked", "author")
    for follower in (both, only_author):
        follow(clients, follower, author)
    follow(clients, both, asked)
    follow(clients, asked, author)
    question = write(clients, asked, "a question")
    reply = clients.post.CreatePost(
        post.CreatePostRequest(author_id=author, text="an answer", in_reply_to_post_id=question), timeout=10
    ).post.post_id
    plain = write(clients, author, "not a reply")
    eventually(lambda: home(clients, only_author) == [plain] and home(clients, both) == [plain, reply, question])
    assert eventually(lambda: home(clients, asked) == [plain, reply, question])
    # A new follow copies the author's recent posts under the same rule.
    late = people(clients, "late")[0]
    follow(clients, late, author)
    assert eventually(lambda: home(clients, late) == [plain])
    explained = clients.timeline.ExplainHomeTimelineEntry(
        timeline.ExplainHomeTimelineEntryRequest(user_id=late, post_id=reply), timeout=10
    )
    assert not explained.shown and "reply" in explained.reason


def entries(clients, user_id: int) -> list[tuple[int, int]]:
    page = clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=user_id, page_size=100), timeout=10)
    return [(p.post_id, p.reposted_by_id) for p in page.posts]


def test_a_post_reposted_by_several_followees_shows_once_with_who_reposted_it_until_deleted(clients):
    reader, fan1, fan2, author, fan_of_author = people(clients, "reader", "fan1", "fan2", "author", "fanau")
    follow(clients, reader, fan1)
    follow(clients, reader, fan2)
    follow(clients, fan_of_author, author)
    follow(clients, fan_of_author, fan1)
    original = write(clients, author, "worth reposting")

    def repost(who):
        return clients.post.RepostPost(post.RepostPostRequest(post_id=original, user_id=who), timeout=10)

    def undo(who):
        return clients.post.UndoRepost(post.UndoRepostRequest(post_id=original, user_id=who), timeout=10)

    repost(fan1)
    eventually(lambda: entries(clients, reader) == [(original, fan1)])
    page = clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=reader), timeout=10)
    assert page.posts[0].reposted_by_handle and page.posts[0].author_id == author
    repost(fan2)
    eventually(lambda: entries(clients, reader) == [(original, fan2)])
    undo(fan2)
    eventually(lambda: entries(clients, reader) == [(original, fan1)])
    # A follower of the author keeps the post as the author's own when the repost that also brought it is undone.
    eventually(lambda: entries(clients, fan_of_author) == [(original, fan1)])
    undo(fan1)
    eventually(lambda: entries(clients, reader) == [] and entries(clients, fan_of_author) == [(original, 0)])
    repost(fan1)
    eventually(lambda: entries(clients, reader) == [(original, fan1)])
    clients.post.DeletePost(post.DeletePostRequest(post_id=original, user_id=author), timeout=10)
    assert eventually(lambda: entries(clients, reader) == [] and entries(clients, fan_of_author) == [])
