"""The edge's Mastodon API on the real servers: shapes, escaping of hostile input, pagination and Link headers,
idempotency keys, errors, rate limits and token revocation."""

import html.parser
import time
import uuid

import httpx
import pytest

from tests.e2e.edge_people import password_token, register_app, sign_up
from tests.helpers import eventually


@pytest.fixture(scope="module")
def http(edge):
    with httpx.Client(base_url=edge, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def ada(http):
    return sign_up(http, "ada")


@pytest.fixture(scope="module")
def bob(http, ada):
    bob = sign_up(http, "bob")
    assert http.post(f"/api/v1/accounts/{ada.user_id}/follow", headers=bob.headers).json()["following"]
    return bob


def post(http, person, text: str, **fields) -> dict:
    answer = http.post("/api/v1/statuses", headers=person.headers, data={"status": text, **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()


class MarkupCheck(html.parser.HTMLParser):
    """Collects every element and attribute of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.hrefs: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self.hrefs += [value for name, value in attrs if name == "href"]

    def handle_data(self, data):
        self.text += data


def markup_of(fragment: str) -> MarkupCheck:
    check = MarkupCheck()
    check.feed(fragment)
    return check


SAFE_TAGS = {"p", "br", "a", "span"}
SAFE_ATTRIBUTES = {"href", "class", "rel", "target", "translate"}


def test_instance_says_chirps_limits(http):
    v1, v2 = http.get("/api/v1/instance").json(), http.get("/api/v2/instance").json()
    assert v1["version"] == v2["version"] == "4.3.0 (compatible; Chirp 0.2)"
    for statuses in (v1["configuration"]["statuses"], v2["configuration"]["statuses"]):
        assert statuses["max_characters"] == 140
        assert statuses["characters_reserved_per_url"] == 23
    assert v1["urls"]["streaming_api"].startswith("ws://")
    assert v2["registrations"]["enabled"] is True


def test_oauth_metadata(http):
    metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert {"read", "write:statuses", "follow", "push"} <= set(metadata["scopes_supported"])
    assert {"authorization_code", "client_credentials", "password"} <= set(metadata["grant_types_supported"])
    assert metadata["token_endpoint"].endswith("/oauth/token")


def test_a_status_renders_entities_as_anchors(http, ada, bob):
    text = f"Ciao @{bob.handle} #Bologna https://example.com/a/rather/long/path/to/somewhere ✨"
    status = post(http, ada, text)
    assert status["id"].isdigit() and isinstance(status["account"]["id"], str)
    assert status["mentions"] == [
        {"id": bob.user_id, "username": bob.handle, "acct": bob.handle, "url": f"{http.base_url}/@{bob.handle}"}
    ]
    assert status["tags"][0]["name"] == "Bologna"
    content = status["content"]
    assert f'class="u-url mention">@<span>{bob.handle}</span></a>' in content
    assert 'class="mention hashtag" rel="tag">#<span>Bologna</span></a>' in content
    # Shown without the scheme, cut at 30 characters with an ellipsis, the whole URL in the href.
    assert (
        '<span class="invisible">https://</span><span class="ellipsis">example.com/a/rather/long/path</span>' in content
    )
    assert 'href="https://example.com/a/rather/long/path/to/somewhere"' in content
    assert markup_of(content).text == text


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<a href=javascript:alert(1)>x</a>",
    "&lt;b&gt; &amp; </p><iframe>",
    'https://example.com/"onmouseover="alert(1) #<b>tag</b>',
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_text_injects_markup(http, ada, hostile):
    status = post(http, ada, hostile)
    found = markup_of(status["content"])
    assert found.tags <= SAFE_TAGS
    assert found.attributes <= SAFE_ATTRIBUTES
    assert found.text == hostile
    assert all(href.startswith(("http://", "https://")) for href in found.hrefs)


def test_no_name_or_bio_injects_markup(http):
    mallory = sign_up(http, "mallory")
    hostile_bio = '<script>x</script> #<img src=x onerror=alert(1)> https://example.com/"><b>'
    answer = http.patch(
        "/api/v1/accounts/update_credentials",
        headers=mallory.headers,
        data={"display_name": "<b>Mallory</b>", "note": hostile_bio},
    )
    assert answer.status_code == 200, answer.text
    account = answer.json()
    assert account["display_name"] == "<b>Mallory</b>"  # plain text, as Mastodon serves it; clients escape it
    assert account["source"]["note"] == hostile_bio
    found = markup_of(account["note"])
    assert found.tags <= SAFE_TAGS and found.attributes <= SAFE_ATTRIBUTES
    assert found.text == hostile_bio
    shown = http.get(f"/api/v1/accounts/{mallory.user_id}").json()
    assert shown["note"] == account["note"]


def test_reply_quote_context_and_reactions(http, ada, bob):
    original = post(http, ada, "The original")
    reply = post(http, bob, "A reply", in_reply_to_id=original["id"])
    assert reply["in_reply_to_id"] == original["id"] and reply["in_reply_to_account_id"] == ada.user_id
    quote = http.post(
        "/api/v1/statuses", headers=bob.headers, json={"status": "A quote", "quoted_status_id": original["id"]}
    ).json()
    assert quote["quote"]["state"] == "accepted" and quote["quote"]["quoted_status"]["id"] == original["id"]
    context = http.get(f"/api/v1/statuses/{reply['id']}/context").json()
    assert [s["id"] for s in context["ancestors"]] == [original["id"]]
    eventually(
        lambda: (
            [s["id"] for s in http.get(f"/api/v1/statuses/{original['id']}/context").json()["descendants"]]
            == [reply["id"]]
        )
    )
    liked = http.post(f"/api/v1/statuses/{original['id']}/favourite", headers=bob.headers).json()
    assert liked["favourited"] and liked["favourites_count"] >= 1
    reblog = http.post(f"/api/v1/statuses/{original['id']}/reblog", headers=bob.headers).json()
    assert reblog["reblog"]["id"] == original["id"] and reblog["account"]["id"] == bob.user_id
    assert reblog["id"] != original["id"], "a reblog is a status of its own (tests/e2e/test_edge_reblogs.py)"
    assert not http.post(f"/api/v1/statuses/{original['id']}/unfavourite", headers=bob.headers).json()["favourited"]
    assert not http.post(f"/api/v1/statuses/{original['id']}/unreblog", headers=bob.headers).json()["reblogged"]


def test_accounts_lookup_relationships_and_lists(http, ada, bob):
    assert http.get("/api/v1/accounts/lookup", params={"acct": ada.handle}).json()["id"] == ada.user_id
    assert http.get("/api/v1/accounts/lookup", params={"acct": "nobody_here_x"}).status_code == 404
    relations = http.get("/api/v1/accounts/relationships", params={"id[]": [ada.user_id]}, headers=bob.headers)
    assert relations.json()[0]["following"] is True
    followers = http.get(f"/api/v1/accounts/{ada.user_id}/followers").json()
    assert bob.user_id in [account["id"] for account in followers]
    following = http.get(f"/api/v1/accounts/{bob.user_id}/following").json()
    assert ada.user_id in [account["id"] for account in following]
    found = http.get("/api/v2/search", params={"q": f"@{ada.handle}"}, headers=bob.headers).json()
    assert [account["id"] for account in found["accounts"]] == [ada.user_id]
    tags = http.get("/api/v2/search", params={"q": "#Bologna", "type": "hashtags"}, headers=bob.headers).json()
    assert tags["hashtags"][0]["name"] == "Bologna"


def test_block_mute_and_their_relationships(http, ada):
    carol = sign_up(http, "carol")
    blocked = http.post(f"/api/v1/accounts/{ada.user_id}/block", headers=carol.headers).json()
    assert blocked["blocking"] and not blocked["following"]
    assert not http.post(f"/api/v1/accounts/{ada.user_id}/unblock", headers=carol.headers).json()["blocking"]
    assert http.post(f"/api/v1/accounts/{ada.user_id}/mute", headers=carol.headers).json()["muting"]
    assert not http.post(f"/api/v1/accounts/{ada.user_id}/unmute", headers=carol.headers).json()["muting"]


def test_home_timeline_pages_with_link_headers(http):
    author, reader = sign_up(http, "author"), sign_up(http, "reader")
    http.post(f"/api/v1/accounts/{author.user_id}/follow", headers=reader.headers)
    ids = [post(http, author, f"Post number {n}")["id"] for n in range(5)]
    newest_first = list(reversed(ids))
    eventually(lambda: len(http.get("/api/v1/timelines/home", headers=reader.headers).json()) == 5, timeout=15)

    first = http.get("/api/v1/timelines/home", params={"limit": 2}, headers=reader.headers)
    assert [s["id"] for s in first.json()] == newest_first[:2]
    assert f"max_id={newest_first[1]}" in first.links["next"]["url"]
    assert f"min_id={newest_first[0]}" in first.links["prev"]["url"]
    second = http.get(first.links["next"]["url"], headers=reader.headers)
    assert [s["id"] for s in second.json()] == newest_first[2:4]
    since = http.get("/api/v1/timelines/home", params={"since_id": ids[2]}, headers=reader.headers)
    assert [s["id"] for s in since.json()] == newest_first[:2]
    closest = http.get("/api/v1/timelines/home", params={"min_id": ids[0], "limit": 2}, headers=reader.headers)
    assert [s["id"] for s in closest.json()] == [ids[2], ids[1]]
    user = http.get(f"/api/v1/accounts/{author.user_id}/statuses", params={"limit": 3})
    assert [s["id"] for s in user.json()] == newest_first[:3] and "next" in user.links


def test_notifications_types_grouping_and_marker(http):
    me, fans = sign_up(http, "star"), [sign_up(http, "fan") for _ in range(3)]
    mine = post(http, me, "Like me")
    for fan in fans:
        http.post(f"/api/v1/statuses/{mine['id']}/favourite", headers=fan.headers)
        http.post(f"/api/v1/accounts/{me.user_id}/follow", headers=fan.headers)

    def listed(**params):
        return http.get("/api/v1/notifications", params=params, headers=me.headers).json()

    eventually(lambda: {n["type"] for n in listed()} == {"favourite", "follow"}, timeout=15)
    assert {n["type"] for n in listed(**{"types[]": ["favourite"]})} == {"favourite"}
    assert {n["type"] for n in listed(**{"exclude_types[]": ["favourite"]})} == {"follow"}

    def all_three():
        grouped = http.get("/api/v2/notifications", headers=me.headers).json()
        return grouped if all(g["notifications_count"] == 3 for g in grouped["notification_groups"]) else None

    grouped = eventually(all_three, timeout=15)
    favourite = next(g for g in grouped["notification_groups"] if g["type"] == "favourite")
    assert favourite["status_id"] == mine["id"] and len(favourite["sample_account_ids"]) == 3
    assert {a["id"] for a in grouped["accounts"]} == {fan.user_id for fan in fans}
    assert [s["id"] for s in grouped["statuses"]] == [mine["id"]]

    newest = listed()[0]["id"]
    assert http.get("/api/v1/notifications/unread_count", headers=me.headers).json()["count"] >= 2
    saved = http.post("/api/v1/markers", headers=me.headers, json={"notifications": {"last_read_id": newest}})
    assert saved.json()["notifications"]["last_read_id"] == newest
    marker = http.get("/api/v1/markers", params={"timeline[]": ["notifications"]}, headers=me.headers).json()
    assert marker["notifications"]["last_read_id"] == newest
    assert http.get("/api/v1/notifications/unread_count", headers=me.headers).json()["count"] == 0


def test_idempotency_keys_are_per_account(http, ada, bob):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = http.post("/api/v1/statuses", headers=ada.headers | key, data={"status": "Exactly once"}).json()
    again = http.post("/api/v1/statuses", headers=ada.headers | key, data={"status": "Exactly once"}).json()
    assert again["id"] == first["id"]
    # Another account with the same key neither gets ada's answer nor blocks its own post.
    theirs = http.post("/api/v1/statuses", headers=bob.headers | key, data={"status": "Exactly once"}).json()
    assert theirs["id"] != first["id"] and theirs["account"]["id"] == bob.user_id
    other = http.post("/api/v1/statuses", headers=ada.headers | key, data={"status": "Something else"})
    assert other.status_code == 409


def test_errors_as_mastodon_answers_them(http, ada, bob):
    assert http.get("/api/v1/timelines/home").json() == {"error": "The access token is invalid"}
    assert http.get("/api/v1/timelines/home", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert http.get("/api/v1/statuses/12345").status_code == 404
    assert http.get("/api/v1/statuses/not-a-number").status_code == 404
    too_long = http.post("/api/v1/statuses", headers=ada.headers, data={"status": "x" * 141})
    assert too_long.status_code == 422 and "140" in too_long.json()["error"]
    # 23 for each URL, as twitter-text counts: 117 characters and a long URL fit in 140.
    fits = http.post(
        "/api/v1/statuses", headers=ada.headers, data={"status": "y" * 116 + " https://example.com/" + "z" * 80}
    )
    assert fits.status_code == 200, fits.text
    assert http.post("/api/v1/statuses", headers=ada.headers, data={"status": ""}).status_code == 422
    theirs = post(http, ada, "Mine alone")
    assert http.delete(f"/api/v1/statuses/{theirs['id']}", headers=bob.headers).status_code == 403
    broken = http.post(
        "/api/v1/statuses", headers=ada.headers | {"Content-Type": "application/json"}, content=b"{not json"
    )
    assert broken.status_code == 422
    deleted = http.delete(f"/api/v1/statuses/{theirs['id']}", headers=ada.headers).json()
    assert deleted["text"] == "Mine alone"
    assert http.get(f"/api/v1/statuses/{theirs['id']}").status_code == 404


def test_missing_scope_is_403(http):
    reader = sign_up(http, "readonly", scopes="read")
    answer = http.post("/api/v1/statuses", headers=reader.headers, data={"status": "Not allowed"})
    assert answer.status_code == 403
    assert answer.json() == {"error": "This action is outside the authorized scopes"}
    assert http.get("/api/v1/timelines/home", headers=reader.headers).status_code == 200


def test_rate_limits_per_account_and_address(system, edge):
    limited = 18180 + uuid.uuid4().int % 700
    system.start(
        "edge",
        port=limited,
        label="edge-limited",
        env={"CHIRP_EDGE_RATE_LIMIT_ACCOUNT": "3", "CHIRP_EDGE_RATE_LIMIT_ADDRESS": "6"},
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{limited}", timeout=15) as http:
        person = sign_up(httpx.Client(base_url=edge, timeout=15), "limited")
        answers = [http.get("/api/v1/accounts/verify_credentials", headers=person.headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["X-RateLimit-Limit"] == "3"
        assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
        assert answers[3].json() == {"error": "Too many requests"} and "X-RateLimit-Reset" in answers[3].headers
        anonymous = [http.get("/api/v1/instance").status_code for _ in range(3)]
        assert anonymous[-1] == 429  # the address's 6 are used up: 4 above and 2 here
    system.kill("edge-limited")


def test_a_revoked_token_fails_on_every_replica_within_5_seconds(system, http, edge):
    other_port = 19180 + uuid.uuid4().int % 700
    system.start("edge", port=other_port, label="edge-replica")
    app = register_app(http)
    person = sign_up(http, "revoke")
    token = password_token(http, app, person.handle, "read")
    headers = {"Authorization": f"Bearer {token}"}
    replicas = [http, httpx.Client(base_url=f"http://127.0.0.1:{other_port}", timeout=15)]
    for replica in replicas:  # both have the answer cached
        assert replica.get("/api/v1/accounts/verify_credentials", headers=headers).status_code == 200
    revoked = http.post(
        "/oauth/revoke", data={"token": token, "client_id": app["client_id"], "client_secret": app["client_secret"]}
    )
    assert revoked.status_code == 200, revoked.text
    started = time.monotonic()
    for replica in replicas:
        while replica.get("/api/v1/accounts/verify_credentials", headers=headers).status_code != 401:
            assert time.monotonic() - started < 5
            time.sleep(0.1)
    assert time.monotonic() - started < 5
    system.kill("edge-replica")
