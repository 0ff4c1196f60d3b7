"""Mute words through the edge (Mastodon's filters v2): a filter made at /api/v2/filters hides, in every context it
names, every post holding any inflection of its keyword, and marks what a "warn" filter matches."""

import httpx
import pytest

from tests.e2e.edge_people import sign_up
from tests.e2e.test_edge_api import post
from tests.helpers import eventually

CONTEXTS = ["home", "notifications", "thread", "account", "public"]


@pytest.fixture(scope="module")
def http(edge):
    with httpx.Client(base_url=edge, timeout=15) as client:
        yield client


def make_filter(http, person, title: str, action: str, *keywords: str, whole_word: bool = True) -> dict:
    answer = http.post(
        "/api/v2/filters",
        headers=person.headers,
        json={
            "title": title,
            "context": CONTEXTS,
            "filter_action": action,
            "keywords_attributes": [{"keyword": keyword, "whole_word": whole_word} for keyword in keywords],
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def texts(statuses: list[dict]) -> list[str]:
    return [(s.get("reblog") or s)["content"] for s in statuses]


def test_a_muted_words_inflections_are_hidden_in_every_context(http):
    author, reader = sign_up(http, "author"), sign_up(http, "reader")
    http.post(f"/api/v1/accounts/{author.user_id}/follow", headers=reader.headers)
    root = post(http, author, "Buongiorno a tutti, che bella giornata di sole")
    muted = post(http, author, f"@{reader.handle} domani ci sono le elezioni regionali", in_reply_to_id=root["id"])
    later = post(http, author, "Stasera pizza con gli amici", in_reply_to_id=root["id"])
    newest = post(http, author, "Le elezioni europee si avvicinano")

    def home(**params) -> list[dict]:
        return http.get("/api/v1/timelines/home", params=params, headers=reader.headers).json()

    def account() -> list[dict]:
        return http.get(f"/api/v1/accounts/{author.user_id}/statuses", headers=reader.headers).json()

    def thread() -> list[dict]:
        return http.get(f"/api/v1/statuses/{root['id']}/context", headers=reader.headers).json()["descendants"]

    def notified() -> list[dict]:
        return [n["status"] for n in http.get("/api/v1/notifications", headers=reader.headers).json() if n["status"]]

    def ids(statuses: list[dict]) -> set[str]:
        return {(s.get("reblog") or s)["id"] for s in statuses}

    every = {"home": home, "account": account, "thread": thread, "notifications": notified}
    eventually(lambda: {muted["id"], newest["id"]} <= ids(home()) and muted["id"] in ids(notified()), timeout=20)
    assert all(muted["id"] in ids(read()) for read in every.values())

    made = make_filter(http, reader, "Politica", "hide", "elezione")
    assert made["context"] == CONTEXTS and made["filter_action"] == "hide"
    assert [k["keyword"] for k in made["keywords"]] == ["elezione"]
    for context, read in every.items():
        shown = ids(read())
        assert muted["id"] not in shown and newest["id"] not in shown, context
    assert later["id"] in ids(thread()) and later["id"] in ids(home())
    # The newest post is hidden: a page of one is still the next post the reader may see, and goes on from it.
    first = http.get("/api/v1/timelines/home", params={"limit": 1}, headers=reader.headers)
    assert [s["id"] for s in first.json()] == [later["id"]]
    assert later["id"] in first.links["next"]["url"]

    # An expired filter applies no more.
    expired = http.put(f"/api/v2/filters/{made['id']}", headers=reader.headers, json={"expires_in": 0})
    assert expired.status_code == 200, expired.text
    assert muted["id"] in ids(home()) and muted["id"] in ids(thread())

    http.delete(f"/api/v2/filters/{made['id']}", headers=reader.headers)
    assert http.get("/api/v2/filters", headers=reader.headers).json() == []


def test_a_warn_filter_marks_the_status_with_the_filter_and_the_keywords_it_matched(http):
    author, reader = sign_up(http, "author"), sign_up(http, "reader")
    http.post(f"/api/v1/accounts/{author.user_id}/follow", headers=reader.headers)
    cats = post(http, author, "Ho visto due gatti neri sul tetto")
    plain = post(http, author, "Niente di speciale oggi")
    made = make_filter(http, reader, "Animali", "warn", "gatto")

    def home() -> dict[str, dict]:
        return {s["id"]: s for s in http.get("/api/v1/timelines/home", headers=reader.headers).json()}

    shown = eventually(lambda: (found := home()) and {cats["id"], plain["id"]} <= found.keys() and found, timeout=20)
    [result] = shown[cats["id"]]["filtered"]
    assert result["filter"]["id"] == made["id"] and result["filter"]["filter_action"] == "warn"
    assert result["keyword_matches"] == ["gatto"]
    assert shown[plain["id"]]["filtered"] == []


def test_filters_and_their_keywords_are_managed_as_mastodon_does(http):
    me, other = sign_up(http, "me"), sign_up(http, "other")
    made = make_filter(http, me, "Sport", "warn", "calcio")
    path = f"/api/v2/filters/{made['id']}"
    assert http.get(path, headers=me.headers).json() == made
    assert http.get(path, headers=other.headers).status_code == 404

    added = http.post(f"{path}/keywords", headers=me.headers, json={"keyword": "rigore", "whole_word": False})
    assert added.status_code == 200, added.text
    keyword = added.json()
    assert (keyword["keyword"], keyword["whole_word"]) == ("rigore", False)
    listed = http.get(f"{path}/keywords", headers=me.headers).json()
    assert [k["keyword"] for k in listed] == ["calcio", "rigore"]
    changed = http.put(f"/api/v2/filters/keywords/{keyword['id']}", headers=me.headers, json={"keyword": "rigori"})
    assert changed.json() == keyword | {"keyword": "rigori"}
    assert http.get(f"/api/v2/filters/keywords/{keyword['id']}", headers=other.headers).status_code == 404
    assert http.delete(f"/api/v2/filters/keywords/{keyword['id']}", headers=me.headers).status_code == 200

    renamed = http.put(path, headers=me.headers, json={"title": "Calcio", "context": ["home"]}).json()
    assert (renamed["title"], renamed["context"]) == ("Calcio", ["home"])
    assert [k["keyword"] for k in renamed["keywords"]] == ["calcio"]
    refused = http.post("/api/v2/filters", headers=me.headers, json={"title": "", "context": ["home"]})
    assert refused.status_code == 422
    assert http.delete(path, headers=me.headers).json() == {}
    assert http.get(path, headers=me.headers).status_code == 404
