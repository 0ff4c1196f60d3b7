"""Lists the services gained for the edge: who favourited and reblogged a status, the viewer's blocks and mutes,
and dismissing and clearing notifications (each a new RPC with its access rule, exercised over HTTP)."""

import httpx
import pytest

from tests.e2e.edge_people import sign_up
from tests.helpers import eventually


@pytest.fixture(scope="module")
def http(edge):
    with httpx.Client(base_url=edge, timeout=15) as client:
        yield client


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [account["id"] for account in answer.json()]


def test_favourited_by_and_reblogged_by(http):
    author, fans = sign_up(http, "author"), [sign_up(http, "fan") for _ in range(3)]
    status = http.post("/api/v1/statuses", headers=author.headers, data={"status": "Popular"}).json()
    for fan in fans:
        http.post(f"/api/v1/statuses/{status['id']}/favourite", headers=fan.headers)
    http.post(f"/api/v1/statuses/{status['id']}/reblog", headers=fans[0].headers)
    assert sorted(ids(http.get(f"/api/v1/statuses/{status['id']}/favourited_by"))) == sorted(f.user_id for f in fans)
    first = http.get(f"/api/v1/statuses/{status['id']}/favourited_by", params={"limit": 2})
    rest = http.get(first.links["next"]["url"])
    assert len(ids(first)) == 2 and len(ids(rest)) == 1 and set(ids(first)).isdisjoint(ids(rest))
    assert ids(http.get(f"/api/v1/statuses/{status['id']}/reblogged_by")) == [fans[0].user_id]
    assert http.get("/api/v1/statuses/999999/favourited_by").status_code == 404


def test_blocks_and_mutes_are_the_viewers_own(http):
    me, pest, bore, other = (sign_up(http, stem) for stem in ("me", "pest", "bore", "other"))
    http.post(f"/api/v1/accounts/{pest.user_id}/block", headers=me.headers)
    http.post(f"/api/v1/accounts/{bore.user_id}/mute", headers=me.headers)
    assert ids(http.get("/api/v1/blocks", headers=me.headers)) == [pest.user_id]
    assert ids(http.get("/api/v1/mutes", headers=me.headers)) == [bore.user_id]
    assert ids(http.get("/api/v1/blocks", headers=other.headers)) == []
    http.post(f"/api/v1/accounts/{pest.user_id}/unblock", headers=me.headers)
    assert ids(http.get("/api/v1/blocks", headers=me.headers)) == []


def test_dismiss_and_clear(http):
    me, fans = sign_up(http, "me"), [sign_up(http, "fan") for _ in range(2)]
    status = http.post("/api/v1/statuses", headers=me.headers, data={"status": "Notice me"}).json()
    http.post(f"/api/v1/statuses/{status['id']}/favourite", headers=fans[0].headers)
    http.post(f"/api/v1/accounts/{me.user_id}/follow", headers=fans[0].headers)

    def types():
        return {n["type"]: n["id"] for n in http.get("/api/v1/notifications", headers=me.headers).json()}

    eventually(lambda: len(types()) == 2, timeout=15)
    found = types()
    dismissed = http.post(f"/api/v1/notifications/{found['favourite']}/dismiss", headers=me.headers)
    assert dismissed.status_code == 200, dismissed.text
    assert set(types()) == {"follow"}
    # A later act of the dismissed group shows again.
    http.post(f"/api/v1/statuses/{status['id']}/favourite", headers=fans[1].headers)
    eventually(lambda: set(types()) == {"follow", "favourite"}, timeout=15)
    assert http.post("/api/v1/notifications/clear", headers=me.headers).status_code == 200
    assert types() == {}
    assert http.post("/api/v1/notifications/bogus/dismiss", headers=me.headers).status_code == 404
