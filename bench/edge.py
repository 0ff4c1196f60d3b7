"""The edge's side of the bench: people signed up through it (as a Mastodon app signs people up), and its two
measured operations over HTTP, each the twin of a gRPC call the bench makes directly."""

import asyncio
from dataclasses import dataclass

import httpx

PASSWORD = "bench password, long enough"
SCOPES = "read write follow push"


@dataclass(frozen=True)
class EdgePerson:
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def client(base_url: str) -> httpx.AsyncClient:
    """Keep-alive connections enough for the open loop's concurrency."""
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10)


async def _ok(answer: httpx.Response) -> dict:
    if answer.status_code != 200:
        raise RuntimeError(f"edge answered {answer.status_code}: {answer.text[:200]}")
    return answer.json()


async def sign_up(http: httpx.AsyncClient, count: int, prefix: str) -> list[EdgePerson]:
    """`count` people, each through POST /api/v1/accounts with an app's client_credentials token."""
    app = await _ok(
        await http.post(
            "/api/v1/apps",
            data={"client_name": "chirp bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": SCOPES},
        )
    )
    app_token = await _ok(
        await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": app["client_id"],
                  "client_secret": app["client_secret"], "scope": SCOPES},
        )
    )  # fmt: skip
    registrar = {"Authorization": f"Bearer {app_token['access_token']}"}
    # Each sign-up hashes a password with argon2id (about 0.15 s of CPU): two at a time keep both cores busy without
    # queueing the rest past the client's timeout, which a busy machine otherwise reaches. Setup, not a measurement.
    hashing = asyncio.Semaphore(2)

    async def one(index: int) -> EdgePerson:
        username = f"{prefix}{index}"
        async with hashing:
            registered = await http.post(
                "/api/v1/accounts",
                headers=registrar,
                data={"username": username, "password": PASSWORD, "agreement": "true", "locale": "en"},
                timeout=60,
            )
        token = await _ok(registered)
        me = await _ok(
            await http.get(
                "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token['access_token']}"}
            )
        )
        return EdgePerson(int(me["id"]), token["access_token"])

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def follow(http: httpx.AsyncClient, person: EdgePerson, user_ids: list[int]) -> None:
    for user_id in user_ids:
        await _ok(await http.post(f"/api/v1/accounts/{user_id}/follow", headers=person.headers))


async def read_home(http: httpx.AsyncClient, person: EdgePerson) -> list:
    return await _ok(await http.get("/api/v1/timelines/home", params={"limit": 20}, headers=person.headers))


async def post(http: httpx.AsyncClient, person: EdgePerson, text: str) -> dict:
    return await _ok(await http.post("/api/v1/statuses", json={"status": text}, headers=person.headers))
