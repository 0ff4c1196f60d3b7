"""The search service end to end: posts made through the post service are found within seconds by any of their
words' inflections and by the operators; deletions, blocks (both ways), mutes and opt-outs are honoured; people
rank by relevance and followers; hashtags come by prefix; a rebuild by replay finds the same."""

import re
import time
import uuid

import grpc
import pytest
from typer.testing import CliRunner

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.search.v1 import search_service_pb2 as search
from services.cli.main import app as chirp
from tests.helpers import eventually, unique_handle


class World:
    def __init__(self, clients) -> None:
        self.clients = clients
        # A word no other test uses, so every query here sees only this test's posts.
        self.word = "zq" + uuid.uuid4().hex[:8]

    def user(self, stem: str, name: str = "", bio: str = "") -> tuple[int, str]:
        handle = unique_handle(stem)
        user = self.clients.graph.CreateUser(graph.CreateUserRequest(handle=handle, display_name=name)).user
        if bio:
            self.clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=user.user_id, bio=bio), timeout=10)
        return user.user_id, handle

    def post(self, author: int, text: str) -> int:
        return self.clients.post.CreatePost(
            post.CreatePostRequest(author_id=author, text=text), timeout=10
        ).post.post_id

    def posts(self, query: str, reader: int = 0, latest: bool = False, size: int = 20, token: str = ""):
        order = search.POST_ORDER_LATEST if latest else search.POST_ORDER_RELEVANCE
        request = search.SearchPostsRequest(
            query=query, user_id=reader, order_by=order, page_size=size, page_token=token
        )
        return self.clients.search.SearchPosts(request, timeout=10)

    def ids(self, query: str, reader: int = 0, latest: bool = False) -> list[int]:
        return [hit.post_id for hit in self.posts(query, reader, latest).results]

    def until(self, query: str, expected, reader: int = 0, timeout: float = 30.0) -> list[int]:
        """The posts a query finds, once they are `expected` (compared as sets)."""
        found: list[int] = []

        def check():
            nonlocal found
            found = self.ids(query, reader)
            return set(found) == set(expected)

        deadline = time.monotonic() + timeout
        while not check() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(found) == set(expected), f"{query!r}: {found} instead of {expected}"
        return found


@pytest.fixture
def world(clients) -> World:
    return World(clients)


def test_posts_are_found_by_other_inflections_and_operators_within_seconds(world):
    ada, ada_handle = world.user("ada")
    bob, _ = world.user("bob")
    w = world.word
    # The first post of a session also waits for the projection's first partition assignment and model loads.
    warm = world.post(world.user("warm")[0], f"{w} warm")
    world.until(f"{w} warm", [warm], timeout=60)
    started = time.monotonic()
    elections = world.post(ada, f"{w} Le elezioni regionali a #Bologna, ne parliamo con @{ada_handle}")
    kyoto = world.post(bob, f"{w} 京都のお寺を見に行きました")
    tokyo = world.post(bob, f"{w} 東京都の天気は晴れです")
    english = world.post(bob, f"{w} The elections were held in Bologna yesterday evening")
    world.until(f"{w} elezione", [elections])
    searchable = time.monotonic() - started
    # Seconds, on a loaded test machine (the bench measures it: p99 at 100 posts/s).
    assert searchable < 10, f"searchable after {searchable:.1f}s"
    assert world.until(f"{w} 京都", [kyoto])
    assert world.until(f"{w} 東京都", [tokyo])
    assert world.until(f"{w} election", [english])
    assert world.until(f"{w} from:{ada_handle}", [elections])
    assert world.until(f"{w} #bologna", [elections])
    assert world.until(f"{w} @{ada_handle}", [elections])
    assert world.until(f"{w} bologna lang:en", [english])
    assert world.until(f"{w} bologna -#bologna", [english])
    assert world.until(f'{w} "regionali a bologna"', [elections])
    assert world.until(f"{w} 京都 OR elezioni", [kyoto, elections])
    assert world.ids(f"{w} -warm", latest=True) == [english, tokyo, kyoto, elections]


def test_deleted_posts_leave_the_index(world):
    ada, _ = world.user("ada")
    keep = world.post(ada, f"{world.word} first owl")
    gone = world.post(ada, f"{world.word} second owl")
    world.until(f"{world.word} owls", [keep, gone])
    world.clients.post.DeletePost(post.DeletePostRequest(post_id=gone, user_id=ada), timeout=10)
    world.until(f"{world.word} owls", [keep])


def test_a_reader_does_not_see_whom_they_block_who_blocks_them_or_whom_they_mute(world):
    reader, _ = world.user("reader")
    blocked, _ = world.user("blckd")
    blocker, _ = world.user("blckr")
    muted, _ = world.user("muted")
    other, _ = world.user("other")
    posts = {who: world.post(who, f"{world.word} jazz tonight") for who in (blocked, blocker, muted, other)}
    world.until(f"{world.word} jazz", list(posts.values()))
    world.clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=reader, blocked_id=blocked), timeout=10)
    world.clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=blocker, blocked_id=reader), timeout=10)
    world.clients.graph.MuteUser(graph.MuteUserRequest(muter_id=reader, muted_id=muted), timeout=10)
    world.until(f"{world.word} jazz", [posts[other]], reader=reader)
    # Anyone else still sees all four.
    assert set(world.ids(f"{world.word} jazz")) == set(posts.values())


def test_an_account_that_opts_out_leaves_the_index_within_seconds_and_can_come_back(world):
    ada, _ = world.user("ada")
    old = world.post(ada, f"{world.word} private thoughts")
    world.until(f"{world.word} thought", [old])
    world.clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=ada, indexable=False), timeout=10)
    started = time.monotonic()
    world.until(f"{world.word} thought", [])
    assert time.monotonic() - started < 10
    new = world.post(ada, f"{world.word} more thoughts")
    time.sleep(2)
    assert world.ids(f"{world.word} thought") == []
    world.clients.graph.UpdateProfile(graph.UpdateProfileRequest(user_id=ada, indexable=True), timeout=10)
    world.until(f"{world.word} thought", [old, new])


def test_pages_never_repeat_and_a_token_belongs_to_its_query(world):
    ada, _ = world.user("ada")
    made = [world.post(ada, f"{world.word} note {i}") for i in range(7)]
    world.until(world.word, made)
    for latest in (False, True):
        seen, token = [], ""
        while True:
            page = world.posts(world.word, latest=latest, size=3, token=token)
            seen += [hit.post_id for hit in page.results]
            token = page.next_page_token
            if not token:
                break
        assert sorted(seen) == sorted(made)
    token = world.posts(world.word, size=3).next_page_token
    with pytest.raises(grpc.RpcError) as refused:
        world.posts(world.word + " other", size=3, token=token)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_query_that_does_not_parse_says_why(world):
    with pytest.raises(grpc.RpcError) as refused:
        world.posts("since:yesterday")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "since:" in refused.value.details()


def test_people_rank_by_relevance_and_followers_with_typeahead(world):
    w = world.word
    quiet, quiet_handle = world.user("quiet", name=f"Anna {w}", bio="Network engineer, routing and BGP")
    famous, famous_handle = world.user("famous", name=f"Marco {w}", bio="Network specialist in data centres")
    poet, _ = world.user("poet", name=f"Lucia {w}", bio="Poetry")
    for _ in range(3):
        fan, _ = world.user("fan")
        world.clients.graph.FollowUser(graph.FollowUserRequest(follower_id=fan, followee_id=famous), timeout=10)

    def people(query: str, prefix: bool = False, reader: int = 0) -> list[int]:
        request = search.SearchPeopleRequest(query=query, prefix=prefix, user_id=reader)
        return [p.user_id for p in world.clients.search.SearchPeople(request, timeout=10).people]

    eventually(lambda: people(f"{w} networks") == [famous, quiet], timeout=10)
    assert people(f"{w} engineers") == [quiet]
    assert people(f"{w} poetry") == [poet]
    assert people(famous_handle[:5], prefix=True)[0] == famous
    assert people(f"{w[:5]}", prefix=True)[:3] == [famous, quiet, poet]
    assert quiet in people(quiet_handle, prefix=True)
    # Blocks hide people too.
    world.clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=quiet, blocked_id=famous), timeout=10)
    eventually(lambda: people(f"{w} networks", reader=quiet) == [], timeout=10)


def test_hashtags_by_prefix_with_usage_counts(world):
    ada, _ = world.user("ada")
    tag = world.word
    for text in (f"#{tag}a #{tag}b", f"#{tag}a", f"#{tag}A again", f"#{tag}c"):
        world.post(ada, text)

    def tags():
        request = search.SearchHashtagsRequest(prefix="#" + tag)
        return [(t.tag, t.post_count) for t in world.clients.search.SearchHashtags(request, timeout=10).hashtags]

    eventually(lambda: tags() == [(f"{tag}a", 3), (f"{tag}b", 1), (f"{tag}c", 1)], timeout=10)


def test_searching_as_someone_else_is_refused(world, system):
    ada, _ = world.user("ada")
    request = search.SearchPostsRequest(query=world.word, user_id=ada)
    with grpc.insecure_channel(system.settings.search_addr) as channel:
        from chirp.search.v1 import search_service_pb2_grpc

        stub = search_service_pb2_grpc.SearchServiceStub(channel)
        # Anonymous search needs no credential; searching as ada needs hers.
        stub.SearchPosts(search.SearchPostsRequest(query=world.word), timeout=10)
        with pytest.raises(grpc.RpcError) as refused:
            stub.SearchPosts(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_cli_search_posts_people_and_tags(world, system):
    ada, ada_handle = world.user("ada", name="Ada Lovelace", bio="Poet of the Analytical Engine")
    made = world.post(ada, f"{world.word} engines #{world.word}tag")
    world.until(f"{world.word} engine", [made])
    runner = CliRunner()
    result = runner.invoke(
        chirp, ["search", "posts", f"{world.word} engine", "--as", ada_handle, "--json"], env=system.env
    )
    assert result.exit_code == 0, result.output
    assert str(made) in result.output

    def shows(args: list[str], expected: str):
        """The command's output once it shows `expected`: people and tag counts come from the graph topic and the
        index's own counts, which may trail the post the query above found."""
        result = runner.invoke(chirp, args, env=system.env)
        return result.output if result.exit_code == 0 and expected in result.output else None

    # "ada_" and 4 of its 8 hex digits: a prefix that many of the session's other "ada_" accounts share could fill
    # the 20 answers with them (they tie: a prefix match scores the same for all).
    eventually(lambda: shows(["search", "people", ada_handle[:8], "--prefix"], ada_handle), timeout=30)
    eventually(lambda: shows(["search", "tags", world.word], f"#{world.word}tag  1 posts"), timeout=30)


def test_a_rebuild_by_replay_finds_the_same_and_serves_new_posts(world, system):
    ada, ada_handle = world.user("ada")
    before = [world.post(ada, f"{world.word} rebuild {i}") for i in range(3)]
    world.clients.post.DeletePost(post.DeletePostRequest(post_id=before[0], user_id=ada), timeout=10)
    world.until(world.word, before[1:])
    result = CliRunner().invoke(chirp, ["projections", "rebuild", "search"], env=system.env)
    assert result.exit_code == 0, result.output
    version = int(re.search(r"rebuilt as version (\d+)", result.output).group(1))
    assert version >= 2

    def found() -> list[int]:
        try:
            return world.ids(world.word)
        except grpc.RpcError:
            return []  # the service restarts itself on the new version

    # The process restarts on the new version and serves it, and new posts reach it.
    system.wait_serving(system.settings.search_addr, "search")
    after = world.post(ada, f"{world.word} rebuild after")
    eventually(lambda: set(found()) == {*before[1:], after}, timeout=60)


def test_a_muted_words_inflections_are_hidden_from_the_readers_search(world):
    """A "hide" filter in the public context: the reader's search leaves out every post holding any inflection
    of the keyword, pages stay full while other matches remain, and other readers see all."""
    from chirp.graph.v1 import graph_pb2

    reader, _ = world.user("reader")
    author, _ = world.user("author")
    muted = [
        world.post(author, f"{world.word} le elezioni regionali di domani"),
        world.post(author, f"{world.word} elezione"),
    ]
    kept = world.post(author, f"{world.word} una bella giornata")
    world.until(world.word, [*muted, kept])
    keywords = [graph_pb2.FilterKeyword(keyword="Elezione", whole_word=True)]
    wanted = graph_pb2.Filter(
        title="politica",
        contexts=[graph_pb2.FILTER_CONTEXT_PUBLIC],
        action=graph_pb2.FILTER_ACTION_HIDE,
        keywords=keywords,
    )
    world.clients.graph.CreateFilter(graph.CreateFilterRequest(user_id=reader, filter=wanted), timeout=10)
    world.until(world.word, [kept], reader=reader)
    assert [hit.post_id for hit in world.posts(world.word, reader, latest=True, size=1).results] == [kept]
    assert set(world.ids(world.word)) == {*muted, kept}
