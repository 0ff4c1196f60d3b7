"""The edge's side of the bench: people signed up through it (as a Mastodon app signs people up), and its two
measured operations over HTTP, each the twin of a gRPC call the bench makes directly with the same person's
credential.

The HTTP client is aiohttp (its parser is C, as grpc.aio's is): httpx spent about 1 ms of the bench process's CPU
per request, four times aiohttp and grpc.aio, and on two busy cores that CPU was waited for by every request in
flight, HTTP ones more than gRPC ones. A measured request reads the whole body and checks its status and its first
byte; it does not decode the JSON (a gRPC answer's protobuf is decoded in C inside grpc.aio, in microseconds).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from chirp.identity.v1 import identity_service_pb2
from chirp.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.runtime.credentials import METADATA_KEY

PASSWORD = "bench password, long enough"
SCOPES = "read write follow push"
# Setup calls that fail for a passing reason (a timeout on a busy machine, a 503, a dropped connection) are tried
# again this many times, after 1 s, 2 s, ...
SETUP_ATTEMPTS = 5
RETRYABLE = (502, 503, 504)
T = TypeVar("T")


@dataclass(frozen=True)
class EdgePerson:
    username: str
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class EdgeError(RuntimeError):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"edge answered {status}: {text[:200]}")
        self.status = status


def client(base_url: str) -> aiohttp.ClientSession:
    """Keep-alive connections enough for the open loop's concurrency."""
    return aiohttp.ClientSession(
        base_url,
        # Idle connections are let go before uvicorn's 5 s keep-alive ends them: a request sent on one the server
        # is closing fails (ServerDisconnectedError), which the bench would count against the edge.
        connector=aiohttp.TCPConnector(limit=128, limit_per_host=128, keepalive_timeout=3),
        timeout=aiohttp.ClientTimeout(total=10),
    )


async def _json(http: aiohttp.ClientSession, method: str, path: str, timeout: float = 10, **kwargs) -> dict:
    """A setup call's JSON answer; EdgeError for any status but 200."""
    async with http.request(method, path, timeout=aiohttp.ClientTimeout(total=timeout), **kwargs) as answer:
        if answer.status != 200:
            raise EdgeError(answer.status, await answer.text())
        return await answer.json()


async def _retried(attempt: Callable[[int], Awaitable[T]]) -> T:
    """attempt(0), then attempt(1), ... after a timeout, a dropped connection or a 502/503/504, 1 s, 2 s, ... apart."""
    for number in range(SETUP_ATTEMPTS):
        try:
            return await attempt(number)
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            failure: Exception = error
        except EdgeError as error:
            if error.status not in RETRYABLE:
                raise
            failure = error
        if number == SETUP_ATTEMPTS - 1:
            raise failure
        await asyncio.sleep(number + 1)
    raise AssertionError("unreachable")


async def _setup(http: aiohttp.ClientSession, method: str, path: str, timeout: float = 10, **kwargs) -> dict:
    """A setup call's JSON answer, tried again when it fails for a passing reason."""
    return await _retried(lambda number: _json(http, method, path, timeout, **kwargs))


async def sign_up(http: aiohttp.ClientSession, count: int, prefix: str) -> list[EdgePerson]:
    """`count` people, each through POST /api/v1/accounts with an app's client_credentials token."""
    app = await _setup(
        http,
        "POST",
        "/api/v1/apps",
        data={"client_name": "chirp bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": SCOPES},
    )
    app_token = await _setup(
        http,
        "POST",
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": app["client_id"],
              "client_secret": app["client_secret"], "scope": SCOPES},
    )  # fmt: skip
    registrar = {"Authorization": f"Bearer {app_token['access_token']}"}
    # Each sign-up hashes a password with argon2id (about 0.15 s of CPU, seconds on a busy machine): two at a time
    # keep both cores busy without queueing the rest past the timeout. Setup, not a measurement.
    hashing = asyncio.Semaphore(2)

    async def register(username: str) -> str:
        """The person's token. A sign-up whose answer was lost (a timeout) may still have happened: its retry
        then finds the username taken, and signs in with the password grant instead."""

        async def attempt(number: int) -> str:
            try:
                async with hashing:
                    token = await _json(
                        http,
                        "POST",
                        "/api/v1/accounts",
                        timeout=60,
                        headers=registrar,
                        data={"username": username, "password": PASSWORD, "agreement": "true", "locale": "en"},
                    )
            except EdgeError as error:
                if error.status == 422 and number > 0:  # taken: by the attempt whose answer was lost
                    return await sign_in(http, app, username)
                raise
            return token["access_token"]

        return await _retried(attempt)

    async def one(index: int) -> EdgePerson:
        username = f"{prefix}{index}"
        token = await register(username)
        me = await _setup(
            http, "GET", "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
        )
        return EdgePerson(username, int(me["id"]), token)

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def sign_in(http: aiohttp.ClientSession, app: dict, username: str) -> str:
    """A token for a person who already signed up (the password grant, on in the bench's system)."""
    answer = await _setup(
        http,
        "POST",
        "/oauth/token",
        timeout=60,  # a password check is an argon2id hash too
        data={"grant_type": "password", "client_id": app["client_id"], "client_secret": app["client_secret"],
              "username": username, "password": PASSWORD, "scope": SCOPES},
    )  # fmt: skip
    return answer["access_token"]


async def follow(http: aiohttp.ClientSession, person: EdgePerson, user_ids: list[int]) -> None:
    for user_id in user_ids:
        await _setup(http, "POST", f"/api/v1/accounts/{user_id}/follow", headers=person.headers)


async def credential(identity: IdentityServiceStub, person: EdgePerson) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata that acts as `person`: the credential identity issues for their token, as the edge gets it
    (it lives 5 minutes: fetched again before each comparison)."""
    answer = await identity.AuthenticateToken(
        identity_service_pb2.AuthenticateTokenRequest(access_token=person.token), timeout=10
    )
    return ((METADATA_KEY, f"Bearer {answer.credential}"),)


async def _measured(http: aiohttp.ClientSession, method: str, path: str, first: bytes, **kwargs) -> int:
    """A measured request: the whole body read, its status and first byte checked; its length."""
    async with http.request(method, path, **kwargs) as answer:
        body = await answer.read()
        if answer.status != 200 or not body.startswith(first):
            raise EdgeError(answer.status, body.decode(errors="replace"))
        return len(body)


async def read_home(http: aiohttp.ClientSession, person: EdgePerson) -> int:
    return await _measured(http, "GET", "/api/v1/timelines/home", b"[", params={"limit": 20}, headers=person.headers)


async def post(http: aiohttp.ClientSession, person: EdgePerson, text: str) -> int:
    return await _measured(http, "POST", "/api/v1/statuses", b"{", json={"status": text}, headers=person.headers)
