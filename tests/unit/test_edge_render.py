"""The edge's pure parts: HTML content and its escaping, display URLs, page positions, rate-limit windows and the
token cache's time bound."""

import asyncio
import html.parser
import re
import time
import unicodedata
from types import SimpleNamespace

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chirp.identity.v1 import identity_pb2, identity_service_pb2
from chirp.post.v1 import post_pb2
from services.edge import render
from services.edge.auth import TokenCache
from services.edge.errors import HttpError
from services.edge.pages import notification_position
from services.edge.ratelimit import FixedWindows
from services.runtime.ids import first_id_at
from services.text import analyze

BASE = "https://chirp.example"


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data):
        self.text += data


def content_of(text: str) -> str:
    found = analyze(text)
    mentions = [SimpleNamespace(user_id=1, handle=m.value, start=m.start, end=m.end) for m in found.mentions]
    return render.content_html(found.text, mentions, found.hashtags, found.urls, BASE)


def parsed(fragment: str) -> Tags:
    tags = Tags()
    tags.feed(fragment)
    return tags


@given(st.text(max_size=200).filter(lambda t: "\r" not in t))
def test_any_text_renders_as_its_own_text_with_safe_markup_only(text):
    tags = parsed(content_of(text))
    assert tags.tags <= {"p", "br", "a", "span"}
    assert tags.attributes <= {"href", "class", "rel", "target", "translate"}
    # Every character is there, as text (only whitespace between paragraphs may become markup).
    assert re.sub(r"\s", "", tags.text) == re.sub(r"\s", "", unicodedata.normalize("NFC", text))


def test_entities_become_anchors_at_their_code_point_offsets():
    content = content_of("日本語 @ada ✨ #Chirp https://example.com/path")
    assert '<a href="https://chirp.example/@ada" class="u-url mention">@<span>ada</span></a>' in content
    assert 'href="https://chirp.example/tags/chirp" class="mention hashtag" rel="tag">#<span>Chirp</span>' in content
    assert '<span class="invisible">https://</span><span class="">example.com/path</span>' in content
    assert content.startswith("<p>日本語 ")


def test_an_entity_that_does_not_fit_the_text_stays_text():
    bogus = [SimpleNamespace(user_id=1, handle="ada", start=5, end=99)]
    assert render.content_html("hi @ada", bogus, [], [], BASE) == "<p>hi @ada</p>"


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("https://example.com/a", ("https://", "example.com/a", "")),
        ("http://www.example.com/", ("http://www.", "example.com/", "")),
        ("example.com", ("", "example.com", "")),
        ("https://example.com/" + "x" * 40, ("https://", "example.com/" + "x" * 18, "x" * 22)),
    ],
)
def test_display_urls_lose_the_scheme_and_are_cut_at_30(url, parts):
    assert render.display_url(url) == parts


def test_paragraphs_and_line_breaks():
    assert content_of("one\ntwo\n\nthree") == "<p>one<br />two</p><p>three</p>"


def test_a_bio_note_is_escaped_and_linked():
    note = render.note_html("<b>hi</b> #tag", BASE)
    assert note.startswith("<p>&lt;b&gt;hi&lt;/b&gt; <a href=")


def test_notification_positions():
    assert notification_position("1796115091814-like:12") == (1796115091814, "like:12")
    for bad in ("", "123", "x-like", "-like"):
        with pytest.raises(HttpError):
            notification_position(bad)


def test_fixed_windows_count_and_reset():
    now = [1000.0]
    windows = FixedWindows(2, 60, clock=lambda: now[0])
    assert [windows.hit("a").remaining for _ in range(3)] == [1, 0, -1]
    assert windows.hit("b").remaining == 1
    now[0] += 60
    assert windows.hit("a").remaining == 1


class _Identity:
    def __init__(self) -> None:
        self.calls = 0
        self.valid = True
        self.scopes = ["read"]
        self.credential_expires = 4_000_000_000

    async def AuthenticateToken(self, request, timeout):
        self.calls += 1
        if not self.valid:
            raise _Refused()
        principal = identity_pb2.Principal(kind=identity_pb2.PRINCIPAL_KIND_USER, user_id=7, scopes=self.scopes)
        answer = identity_service_pb2.AuthenticateTokenResponse(principal=principal, credential=f"jwt{self.calls}")
        answer.credential_expire_time.FromSeconds(self.credential_expires)
        return answer


class _Refused(grpc.aio.AioRpcError):
    def __init__(self) -> None:
        super().__init__(grpc.StatusCode.UNAUTHENTICATED, None, None, "revoked")


def test_token_answers_are_reused_only_within_the_ttl():
    now = [0.0]
    identity = _Identity()
    cache = TokenCache(identity, ttl=4, clock=lambda: now[0])

    async def scenario():
        assert (await cache.viewer("token")).user_id == 7
        await asyncio.gather(*(cache.viewer("token") for _ in range(5)))
        assert identity.calls == 1
        identity.valid = False
        now[0] = 1.9
        await cache.viewer("token")  # still the cached answer, young enough not to be asked again
        await _settle()
        assert identity.calls == 1
        now[0] = 4.0
        with pytest.raises(HttpError) as refused:
            await cache.viewer("token")
        assert refused.value.status == 401
        with pytest.raises(HttpError):
            await cache.viewer("x" * 600)
        assert identity.calls == 2

    asyncio.run(scenario())


def test_a_repost_is_a_reblog_status_with_its_own_id_and_time_and_the_original_inside():
    ada, bob = render.Author(4_200_000_000_001, "ada"), render.Author(4_200_000_000_002, "bob")
    posted_ms, reposted_ms = 1_767_225_600_000, 1_767_312_000_000  # the repost a day after the post
    post = post_pb2.Post(post_id=first_id_at(posted_ms) + 7, author_id=ada.user_id, text="the original")
    post.create_time.FromMilliseconds(posted_ms)
    original = render.status(post, ada, BASE)
    repost_id = first_id_at(reposted_ms) + 3

    wrapper = render.reblog(original, bob, BASE, repost_id)
    assert wrapper["id"] == str(repost_id) != original["id"]
    assert wrapper["reblog"] == original and wrapper["reblog"]["id"] == str(post.post_id)
    assert wrapper["account"]["id"] == str(bob.user_id) and wrapper["account"]["username"] == "bob"
    assert wrapper["created_at"] == "2026-01-02T00:00:00.000Z" and original["created_at"] == "2026-01-01T00:00:00.000Z"
    assert wrapper["uri"].endswith(f"/statuses/{repost_id}/activity") and wrapper["content"] == ""
    # A repost from before reposts had ids: shown with the post's id, as it was.
    assert render.reblog(original, bob, BASE, 0)["id"] == original["id"]


async def _settle() -> None:
    """Let the cache's background asks run (the fake identity answers without waiting)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_token_in_use_is_asked_again_behind_its_requests_and_never_trusted_past_the_ttl():
    now = [0.0]
    identity = _Identity()
    cache = TokenCache(identity, ttl=4, clock=lambda: now[0])

    async def scenario():
        await cache.viewer("token")  # asked at 0
        now[0] = 2.0
        assert (await cache.viewer("token")).user_id == 7  # answered at once from the cache...
        await _settle()
        assert identity.calls == 2  # ...and asked again behind the request: trusted until 6.0
        # The same principal: the credential the services already verified stays in use.
        assert (await cache.viewer("token")).credential == "jwt1"
        identity.valid = False
        now[0] = 5.0
        await cache.viewer("token")  # the answer of 2.0, within its 4 s; identity is asked again behind it
        await _settle()
        assert identity.calls == 3
        with pytest.raises(HttpError):  # the revocation shows without waiting out the 4 s
            await cache.viewer("token")

        identity.valid = True
        await cache.viewer("other")  # asked at 5.0
        identity.valid = False
        now[0] = 9.0  # unused since: its answer has expired, so the request waits for identity
        with pytest.raises(HttpError):
            await cache.viewer("other")
        assert identity.calls == 5

    asyncio.run(scenario())


def test_a_new_credential_is_used_when_the_principal_changed_or_the_old_one_would_expire():
    now = [0.0]
    identity = _Identity()
    cache = TokenCache(identity, ttl=4, clock=lambda: now[0])

    async def scenario():
        assert (await cache.viewer("token")).credential == "jwt1"
        identity.scopes = ["read", "write"]
        now[0] = 4.0
        assert (await cache.viewer("token")).credential == "jwt2"  # other scopes: the new credential
        now[0] = 8.0
        assert (await cache.viewer("token")).credential == "jwt2"  # the same principal: jwt3 is not used
        identity.credential_expires = int(time.time()) + 33
        assert (await cache.viewer("other")).credential == "jwt4"  # 3 s past the margin: trusted for 3 s
        now[0] = 11.0
        assert (await cache.viewer("other")).credential == "jwt5"  # too near its end to be kept
        assert identity.calls == 5

    asyncio.run(scenario())
