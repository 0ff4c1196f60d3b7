"""People and tokens made through the edge's own endpoints, as a Mastodon app makes them: register an app, get
its client_credentials token, sign up with it (POST /api/v1/accounts) for a user token."""

import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Person:
    handle: str
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register_app(
    http: httpx.Client, scopes: str = "read write follow push", redirect: str = "urn:ietf:wg:oauth:2.0:oob"
):
    answer = http.post("/api/v1/apps", data={"client_name": "tests", "redirect_uris": redirect, "scopes": scopes})
    assert answer.status_code == 200, answer.text
    return answer.json()


def app_token(http: httpx.Client, app: dict, scopes: str = "read write follow push") -> str:
    answer = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scopes,
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def unique_handle(stem: str) -> str:
    return f"{stem[:6]}{uuid.uuid4().hex[:8]}"


ALL = "read write follow push"


def sign_up(http: httpx.Client, stem: str, scopes: str = ALL) -> Person:
    """A new person with a user token of the app's scopes (POST /api/v1/accounts needs write:accounts), or of
    fewer `scopes` through the password grant."""
    app = register_app(http)
    token = app_token(http, app)
    handle = unique_handle(stem)
    answer = http.post(
        "/api/v1/accounts",
        headers={"Authorization": f"Bearer {token}"},
        data={"username": handle, "email": f"{handle}@example.com", "password": PASSWORD, "agreement": "true"},
    )
    assert answer.status_code == 200, answer.text
    user_token = answer.json()["access_token"]
    me = http.get("/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {user_token}"})
    assert me.status_code == 200, me.text
    if scopes != ALL:
        user_token = password_token(http, app, handle, scopes)
    return Person(handle, me.json()["id"], user_token)


def password_token(http: httpx.Client, app: dict, login: str, scopes: str = "read write follow push") -> str:
    answer = http.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": login,
            "password": PASSWORD,
            "scope": scopes,
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]
