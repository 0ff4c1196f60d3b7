"""Reblogs through the edge on the real servers (issue 15): a repost is a Mastodon status of its own, with the
repost's id and time, whose `reblog` is the original; it sits in home timelines at the time of the repost, pages
and streams by that id, and is undone by unreblog or by deleting it."""

from datetime import datetime

import httpx
import pytest

from tests.e2e.edge_people import sign_up
from tests.helpers import eventually


@pytest.fixture(scope="module")
def http(edge):
    with httpx.Client(base_url=edge, timeout=15) as client:
        yield client


def post(http, person, text: str) -> dict:
    answer = http.post("/api/v1/statuses", headers=person.headers, data={"status": text})
    assert answer.status_code == 200, answer.text
    return answer.json()


def reblog(http, person, status_id: str) -> dict:
    answer = http.post(f"/api/v1/statuses/{status_id}/reblog", headers=person.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def home(http, person, **params) -> list[dict]:
    answer = http.get("/api/v1/timelines/home", params=params, headers=person.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def ids(statuses: list[dict]) -> list[str]:
    return [status["id"] for status in statuses]


def moment(status: dict) -> datetime:
    return datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))


def test_a_reblog_has_its_own_id_and_time_and_is_first_in_home_until_unreblogged(http):
    author, booster, reader = sign_up(http, "author"), sign_up(http, "booster"), sign_up(http, "reader")
    assert http.post(f"/api/v1/accounts/{booster.user_id}/follow", headers=reader.headers).json()["following"]
    old = post(http, author, "An old post, by someone the reader does not follow")
    newer = post(http, booster, "The booster's own post, newer than the old one")
    eventually(lambda: ids(home(http, reader)) == [newer["id"]], timeout=30)

    boosted = reblog(http, booster, old["id"])
    assert boosted["id"] != old["id"] and boosted["reblog"]["id"] == old["id"]
    assert boosted["account"]["id"] == booster.user_id and boosted["reblog"]["account"]["id"] == author.user_id
    assert boosted["reblogged"] and boosted["reblog"]["reblogged"] and boosted["content"] == ""
    assert moment(boosted) > moment(newer) > moment(old), "a reblog is dated when it was made"
    assert reblog(http, booster, old["id"])["id"] == boosted["id"], "a repeated reblog is the same reblog"
    shown = http.get(f"/api/v1/statuses/{boosted['id']}").json()
    assert (shown["id"], shown["reblog"]["id"], shown["account"]["id"]) == (boosted["id"], old["id"], booster.user_id)

    # At the time of the reblog, above the booster's newer post, under the reblog's own id.
    eventually(lambda: ids(home(http, reader)) == [boosted["id"], newer["id"]], timeout=30)
    first = home(http, reader)[0]
    assert first["reblog"]["id"] == old["id"] and first["account"]["id"] == booster.user_id
    assert first["created_at"] == boosted["created_at"]
    # Positions are the statuses' ids: the reblog's pages on, and is the page's newest.
    page = http.get("/api/v1/timelines/home", params={"limit": 1}, headers=reader.headers)
    assert ids(page.json()) == [boosted["id"]] and f"max_id={boosted['id']}" in page.links["next"]["url"]
    assert ids(home(http, reader, max_id=boosted["id"])) == [newer["id"]]
    assert ids(home(http, reader, since_id=newer["id"])) == [boosted["id"]]

    # Unreblog by the reblog's id answers the original, and the reblog is gone everywhere.
    undone = http.post(f"/api/v1/statuses/{boosted['id']}/unreblog", headers=booster.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["id"] == old["id"] and not undone.json()["reblogged"]
    assert http.get(f"/api/v1/statuses/{boosted['id']}").status_code == 404
    eventually(lambda: ids(home(http, reader)) == [newer["id"]], timeout=30)


def test_a_post_reblogged_by_two_followees_shows_once_as_the_latest_reblog(http):
    author, first, second, reader = (sign_up(http, stem) for stem in ("author", "first", "second", "reader"))
    for booster in (first, second):
        http.post(f"/api/v1/accounts/{booster.user_id}/follow", headers=reader.headers)
    original = post(http, author, "Reblogged twice")
    earlier = reblog(http, first, original["id"])
    latest = reblog(http, second, original["id"])
    assert int(latest["id"]) > int(earlier["id"])

    def shown():
        page = home(http, reader)
        return page if ids(page) == [latest["id"]] else None

    page = eventually(shown, timeout=30)
    assert page[0]["account"]["id"] == second.user_id and page[0]["reblog"]["id"] == original["id"]


def test_deleting_a_reblog_undoes_the_repost_and_only_its_reblogger_may(http):
    author, booster, other = sign_up(http, "author"), sign_up(http, "booster"), sign_up(http, "other")
    original = post(http, author, "Boost me")
    boosted = reblog(http, booster, original["id"])

    refused = http.delete(f"/api/v1/statuses/{boosted['id']}", headers=other.headers)
    assert refused.status_code == 403, refused.text
    assert http.get(f"/api/v1/statuses/{boosted['id']}").status_code == 200

    deleted = http.delete(f"/api/v1/statuses/{boosted['id']}", headers=booster.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["id"] == boosted["id"] and deleted.json()["reblog"]["id"] == original["id"]
    assert http.get(f"/api/v1/statuses/{boosted['id']}").status_code == 404
    assert http.get(f"/api/v1/statuses/{original['id']}").status_code == 200, "the original stays"
    assert http.get(f"/api/v1/statuses/{original['id']}/reblogged_by").json() == []
    # Reblogging a reblog reblogs the original, as on Mastodon.
    again = reblog(http, booster, original["id"])
    assert reblog(http, other, again["id"])["reblog"]["id"] == original["id"]
