"""Every endpoint of the edge that needs a credential, against every way of not having the right one: no token, a
malformed one, a revoked one, another account's, one without the scope. None gets through.

The endpoints come from the edge's own route table (services.edge.app.endpoints), so a new endpoint is in the
matrix without editing this test. "Another account's token" acts as that account, never as the victim: no answer
to it carries the victim's private data, and afterwards the victim's posts, profile and read position are as they
were.
"""

import re
import time

import httpx
import pytest

from services.edge.app import endpoints
from tests.e2e.edge_people import password_token, register_app, sign_up
from tests.helpers import eventually

GUARDED = [endpoint for endpoint in endpoints() if endpoint.access.needs_token]
# Public reads that check a token's scope when one is sent (search, the tag timeline).
SCOPED_PUBLIC = [e for e in endpoints() if e.access.token == "optional" and e.access.scope]
BODIES = {
    "/api/v1/statuses": {"status": "written by the access matrix"},
    "/api/v1/accounts/update_credentials": {"note": "written by the access matrix"},
    "/api/v1/accounts": {"username": "matrixuser", "password": "matrix password 1", "agreement": "true"},
}


@pytest.fixture(scope="module")
def http(edge):
    with httpx.Client(base_url=edge, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def victim(http):
    """An account with private state: a notification, a read position, a bio, a post."""
    victim, fan = sign_up(http, "victim"), sign_up(http, "fan")
    http.patch("/api/v1/accounts/update_credentials", headers=victim.headers, data={"note": "The victim's own bio"})
    status = http.post("/api/v1/statuses", headers=victim.headers, data={"status": "The victim's post"}).json()
    http.post(f"/api/v1/accounts/{victim.user_id}/follow", headers=fan.headers)
    notifications = eventually(lambda: http.get("/api/v1/notifications", headers=victim.headers).json(), timeout=15)
    http.post(
        "/api/v1/markers", headers=victim.headers, json={"notifications": {"last_read_id": notifications[0]["id"]}}
    )
    return {"person": victim, "status": status["id"], "notification": notifications[0]["id"]}


def _revoked_token(http) -> str:
    app = register_app(http)
    person = sign_up(http, "revoked")
    token = password_token(http, app, person.handle)
    revoked = http.post(
        "/oauth/revoke", data={"token": token, "client_id": app["client_id"], "client_secret": app["client_secret"]}
    )
    assert revoked.status_code == 200
    return token


@pytest.fixture(scope="module")
def credentials(http):
    """The wrong credentials, by name: the Authorization header each sends (None: none)."""
    other = sign_up(http, "other")
    unscoped = sign_up(http, "pushonly", scopes="push")  # `push` covers no endpoint here
    revoked = _revoked_token(http)
    time.sleep(4.5)  # past any replica's cached answer
    return {
        "no token": None,
        "malformed": "Bearer not-a-token-identity-issued",
        "not bearer": "Basic dXNlcjpwYXNz",
        "revoked": f"Bearer {revoked}",
        "another account": f"Bearer {other.token}",
        "missing scope": f"Bearer {unscoped.token}",
    }


def _request(http, endpoint, victim, authorization):
    path = endpoint.path
    target = victim["status"] if path.startswith("/api/v1/statuses/") else victim["person"].user_id
    path = re.sub(r"\{id\}", target, path).replace("{hashtag}", "matrix")
    headers = {"Authorization": authorization} if authorization else {}
    params = {"timeline[]": "notifications", "q": victim["person"].handle, "id[]": victim["person"].user_id}
    body = BODIES.get(endpoint.path, {})
    if endpoint.path == "/api/v1/markers" and endpoint.method == "POST":
        body = {"notifications[last_read_id]": victim["notification"]}
    if endpoint.path.startswith("/api/v1/streaming/"):
        with http.stream(endpoint.method, path, headers=headers, params=params) as answer:
            return answer.status_code, ""
    answer = http.request(endpoint.method, path, headers=headers, params=params, data=body or None)
    return answer.status_code, answer.text


@pytest.mark.parametrize("endpoint", GUARDED, ids=[f"{e.method} {e.path}" for e in GUARDED])
def test_no_wrong_credential_gets_through(http, victim, credentials, endpoint):
    for name, authorization in credentials.items():
        status, body = _request(http, endpoint, victim, authorization)
        if name == "another account":
            sent_it = endpoint.path == "/api/v1/markers" and endpoint.method == "POST"  # echoes its own request
            assert sent_it or victim["notification"] not in body, f"{name}: the victim's notification leaked"
            assert "The victim's own bio" not in body or '"source"' not in body, f"{name}: the victim's account"
            if endpoint.method == "DELETE":
                assert status in (403, 404), f"{name}: {status} {body[:200]}"
        elif name == "missing scope":
            assert status == 403, f"{name}: {status} {body[:200]}"
        else:
            assert status == 401, f"{name}: {status} {body[:200]}"


@pytest.mark.parametrize("endpoint", SCOPED_PUBLIC, ids=[f"{e.method} {e.path}" for e in SCOPED_PUBLIC])
def test_a_public_read_takes_no_token_or_a_right_one_and_refuses_a_wrong_one(http, victim, credentials, endpoint):
    """Anyone may search; a token that is sent must be valid and hold the scope, and another account's token acts
    as that account (its blocks and mutes), never as anyone else."""
    for name, authorization in credentials.items():
        status, body = _request(http, endpoint, victim, authorization)
        if name in ("no token", "another account"):
            assert status == 200, f"{name}: {status} {body[:200]}"
        elif name == "missing scope":
            assert status == 403, f"{name}: {status} {body[:200]}"
        else:
            assert status == 401, f"{name}: {status} {body[:200]}"


def test_the_victim_is_untouched(http, victim, credentials):
    """Runs after the matrix: what the other tokens could have changed is as it was."""
    person = victim["person"]
    assert http.get(f"/api/v1/statuses/{victim['status']}").status_code == 200
    me = http.get("/api/v1/accounts/verify_credentials", headers=person.headers).json()
    assert me["source"]["note"] == "The victim's own bio"
    marker = http.get("/api/v1/markers", params={"timeline[]": "notifications"}, headers=person.headers).json()
    assert marker["notifications"]["last_read_id"] == victim["notification"]


def test_the_stream_needs_a_valid_token(edge, credentials):
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    url = edge.replace("http", "ws") + "/api/v1/streaming?stream=user"
    for name, authorization in credentials.items():
        if name in ("another account",):
            continue
        token = (authorization or "").removeprefix("Bearer ")
        try:
            with connect(f"{url}&access_token={token}", open_timeout=5) as socket:
                message = socket.recv(timeout=5)
                assert '"error"' in message, f"{name}: {message}"
        except (InvalidStatus, ConnectionClosed):
            pass


def test_the_matrix_covers_every_guarded_endpoint():
    assert len(GUARDED) >= 25
    assert {"/api/v2/search", "/api/v1/accounts/search"} <= {endpoint.path for endpoint in SCOPED_PUBLIC}
    assert all(endpoint.access.scope for endpoint in GUARDED), "every guarded endpoint names its scope"
