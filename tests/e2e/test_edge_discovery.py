"""Search, the hashtag timeline and trends through the edge's Mastodon API, on the real services: full text in any
inflection, people by a word of their bio and by the start of their handle, a reader's blocks honoured, a tagged
post in its tag's timeline, and trends in Mastodon's shapes (Tag with history, Status, PreviewCard with history)."""

import asyncio
import uuid

import httpx
import pytest

from bench.trends_world import World, distinct_text, publish
from services.runtime.clock import now_ms
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.trends.domain import MINUTE_MS
from tests.e2e.edge_people import sign_up
from tests.helpers import eventually

# The index and the trends are projections: what the edge shows of a new post follows it within seconds.
WAIT = 60


@pytest.fixture(scope="module")
def http(edge):
    with httpx.Client(base_url=edge, timeout=15) as client:
        yield client


def post(http, person, text: str) -> dict:
    answer = http.post("/api/v1/statuses", headers=person.headers, data={"status": text})
    assert answer.status_code == 200, answer.text
    return answer.json()


def search(http, person=None, **params) -> dict:
    answer = http.get("/api/v2/search", params=params, headers=person.headers if person else {})
    assert answer.status_code == 200, answer.text
    return answer.json()


def ids(items) -> list[str]:
    return [item["id"] for item in items]


def test_full_text_search_finds_a_post_by_another_inflection_of_its_words(http):
    ada, bob = sign_up(http, "ada"), sign_up(http, "bob")
    tag = f"lab{uuid.uuid4().hex[:8]}"
    written = post(http, ada, f"Today we are configuring the routers of the new office network #{tag}")

    query = f"configured router #{tag}"
    found = eventually(lambda: search(http, bob, q=query, type="statuses")["statuses"], timeout=WAIT, interval=0.5)
    assert ids(found) == [written["id"]]
    assert found[0]["account"]["id"] == ada.user_id and found[0]["content"].startswith("<p>")
    # Anonymous search reaches the same posts; paging needs a signed-in user, as Mastodon's does.
    assert ids(search(http, q=query)["statuses"]) == [written["id"]]
    # A query the post search cannot parse is 422 for statuses alone, and no statuses beside the rest.
    unparsable = f"OR {tag}"
    assert http.get("/api/v2/search", params={"q": unparsable, "type": "statuses"}).status_code == 422
    assert search(http, bob, q=unparsable)["statuses"] == []
    assert http.get("/api/v2/search", params={"q": query, "offset": 1}).status_code == 401
    # account_id narrows to an author, max_id to older posts.
    assert search(http, bob, q=query, account_id=bob.user_id)["statuses"] == []
    assert search(http, bob, q=query, max_id=written["id"])["statuses"] == []
    everything = search(http, bob, q=f"#{tag}")
    assert set(everything) == {"accounts", "statuses", "hashtags"}
    tags = everything["hashtags"]
    assert tags[0]["name"] == tag and tags[0]["url"].endswith(f"/tags/{tag}") and "history" in tags[0]


def test_accounts_search_by_a_word_of_the_bio_and_by_handle_prefix_honours_blocks(http):
    dana, reader, blocker = sign_up(http, "dana"), sign_up(http, "reader"), sign_up(http, "blockr")
    word = f"theremin{uuid.uuid4().hex[:6]}"
    updated = http.patch(
        "/api/v1/accounts/update_credentials",
        headers=dana.headers,
        data={"note": f"Optical networks specialist who plays the {word}"},
    )
    assert updated.status_code == 200, updated.text
    assert http.post(f"/api/v1/accounts/{dana.user_id}/block", headers=blocker.headers).json()["blocking"]

    def people(person, q: str) -> list[str]:
        answer = http.get("/api/v1/accounts/search", params={"q": q}, headers=person.headers if person else {})
        assert answer.status_code == 200, answer.text
        return ids(answer.json())

    assert eventually(lambda: dana.user_id in people(reader, word), timeout=WAIT, interval=0.5)
    assert dana.user_id in people(None, word)
    prefix = dana.handle[:9]
    assert eventually(lambda: dana.user_id in people(reader, prefix), timeout=WAIT, interval=0.5)
    assert eventually(lambda: dana.user_id not in people(blocker, word), timeout=WAIT, interval=0.5)
    assert dana.user_id not in people(blocker, dana.handle)
    # v2 search answers accounts by the bio word too.
    assert dana.user_id in ids(search(http, reader, q=word, type="accounts")["accounts"])


def test_the_tag_timeline_lists_a_tagged_post_newest_first(http):
    ada = sign_up(http, "tagger")
    tag = f"tl{uuid.uuid4().hex[:8]}"
    older = post(http, ada, f"First word on #{tag}")
    newer = post(http, ada, f"Second word on #{tag} and #other{tag}")

    def timeline(**params):
        answer = http.get(f"/api/v1/timelines/tag/{tag}", params=params)
        assert answer.status_code == 200, answer.text
        return answer

    listed = eventually(lambda: len(timeline().json()) == 2 and timeline(), timeout=WAIT, interval=0.5)
    assert ids(listed.json()) == [newer["id"], older["id"]]
    assert ids(timeline(local="true").json()) == [newer["id"], older["id"]]
    assert timeline(only_media="true").json() == []
    assert ids(timeline(**{"none[]": f"other{tag}"}).json()) == [older["id"]]
    page = timeline(limit=1)
    assert ids(page.json()) == [newer["id"]] and 'rel="next"' in page.headers["link"]
    assert ids(timeline(max_id=newer["id"]).json()) == [older["id"]]
    assert ids(http.get(f"/api/v1/timelines/tag/{tag}", headers=ada.headers).json()) == [newer["id"], older["id"]]


def test_trends_answer_tags_statuses_and_links_in_mastodons_shapes(system, http):
    """Trends weigh accounts by age and followers, so the accounts of the spike are published as a year old with
    followers (as tests/e2e/test_trends.py makes them); the liked post is a real one, made through the edge."""
    world = World(POST_EVENTS.name, GRAPH_EVENTS.name, now=now_ms())
    spike = f"spike{uuid.uuid4().hex[:6]}"
    world.spike(spike, world.established(20))
    link = f"https://example.org/{uuid.uuid4().hex[:8]}"
    for i, account in enumerate(world.established(8)):
        world.post(account, f"{distinct_text(200 + i, 'reading')} {link}", world.now - (30 - i) * MINUTE_MS)
    author = sign_up(http, "liked")
    liked = post(http, author, "A post that many people like, about the trains of tomorrow")
    world.posts[int(liked["id"])] = int(author.user_id)
    for account in world.established(8):
        world.like(account, int(liked["id"]), world.now - MINUTE_MS)
    asyncio.run(publish(system.settings, world.take()))

    def listed(path: str, key: str, wanted: str) -> list[dict]:
        answer = http.get(path, params={"limit": 20})
        assert answer.status_code == 200, answer.text
        return [item for item in answer.json() if item[key] == wanted]

    tag = eventually(lambda: listed("/api/v1/trends/tags", "name", spike), timeout=90, interval=1)[0]
    assert tag["url"].endswith(f"/tags/{spike}")
    # Per day (UTC): the spike's posts are spread over the last 30 minutes, so just after midnight some of them are
    # yesterday's.
    recent = tag["history"][:2]
    assert all(set(day) == {"day", "uses", "accounts"} for day in recent)
    assert sum(int(day["accounts"]) for day in recent) == 20 and sum(int(day["uses"]) for day in recent) == 20
    assert len(tag["history"]) == 7

    card = eventually(lambda: listed("/api/v1/trends/links", "url", link), timeout=90, interval=1)[0]
    assert card["type"] == "link" and card["provider_name"] == "example.org"
    assert sum(int(day["accounts"]) for day in card["history"][:2]) == 8

    status = eventually(lambda: listed("/api/v1/trends/statuses", "id", liked["id"]), timeout=90, interval=1)[0]
    assert status["account"]["id"] == author.user_id and status["favourites_count"] >= 0

    # A reader's trends: with a token, and paged by offset with Mastodon's Link header.
    reader = sign_up(http, "trendr")
    mine = http.get("/api/v1/trends/tags", params={"limit": 1}, headers=reader.headers)
    assert mine.status_code == 200 and len(mine.json()) == 1
    assert "offset=1" in mine.headers.get("link", "")
