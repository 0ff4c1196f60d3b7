"""Who a request acts for: its access token, checked with identity's AuthenticateToken, and the short-lived
credential that answer carries, which every gRPC call the request makes presents as `authorization: Bearer`.

Answers are reused for at most `ttl` seconds (CHIRP_EDGE_TOKEN_CACHE_SECONDS, 4 by default) after identity gave
them, so a revoked token fails on every replica within that time, and concurrent requests with one token make one
call. A request that finds its answer past half that age is served with it and has it asked again in the
background: a token in use every few seconds never waits for identity, and identity is asked at most twice a `ttl`
per token in use (never for one not in use).
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import grpc
from prometheus_client import Counter

from chirp.identity.v1 import identity_pb2, identity_service_pb2
from chirp.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.edge.errors import HttpError, unauthorized
from services.runtime.credentials import METADATA_KEY

# Tokens longer than this are no token identity issued: refused without asking.
MAX_TOKEN_LENGTH = 512
# At most this many answers are kept; past it the expired ones go, then all of them.
MAX_CACHED = 50_000
# A credential is not handed out this close to its expiry.
CREDENTIAL_MARGIN_SECONDS = 30
TOKEN_CHECKS = Counter(
    "chirp_edge_token_checks",
    "Requests' token checks: answered from the cache (cached), from the cache with identity asked again behind the "
    "request (refreshed), or after asking identity (waited).",
    ["answer"],
)


@dataclass(frozen=True)
class Viewer:
    """The principal an access token acts for and the credential the services accept for it."""

    principal: identity_pb2.Principal
    credential: str

    @property
    def user_id(self) -> int:
        return self.principal.user_id

    @property
    def is_user(self) -> bool:
        return self.principal.kind == identity_pb2.PRINCIPAL_KIND_USER and self.principal.user_id != 0

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((METADATA_KEY, f"Bearer {self.credential}"),)


@dataclass(frozen=True)
class _Answer:
    viewer: Viewer | None  # None: identity said the token is not valid
    expires: float
    refresh_at: float  # from then on, a request that uses it asks identity again, in the background
    credential_expires: float = 0.0  # Unix seconds


class TokenCache:
    def __init__(self, identity: IdentityServiceStub, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._identity = identity
        self._ttl = ttl
        self._clock = clock
        self._answers: dict[str, _Answer] = {}
        self._pending: dict[str, asyncio.Future[_Answer]] = {}
        self._refreshing: set[asyncio.Task] = set()

    async def viewer(self, token: str) -> Viewer:
        """The viewer of a token; 401 when identity does not know it (or it was revoked)."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
            raise unauthorized()
        now = self._clock()
        answer = self._answers.get(token)
        if answer is None or answer.expires <= now:
            TOKEN_CHECKS.labels("waited").inc()
            answer = await self._ask_once(token)
        elif answer.refresh_at <= now and token not in self._pending:
            TOKEN_CHECKS.labels("refreshed").inc()
            refresh = asyncio.ensure_future(self._ask_once(token))
            self._refreshing.add(refresh)
            refresh.add_done_callback(self._refreshed)
        else:
            TOKEN_CHECKS.labels("cached").inc()
        if answer.viewer is None:
            raise unauthorized()
        return answer.viewer

    def forget(self, token: str) -> None:
        """After this replica revoked a token: it fails here at once (an answer still on its way is not kept)."""
        self._answers.pop(token, None)
        self._pending.pop(token, None)

    def _refreshed(self, refresh: asyncio.Task) -> None:
        self._refreshing.discard(refresh)
        if not refresh.cancelled():
            refresh.exception()  # an identity outage: the answer expires, and the next request asks and says so

    async def _ask_once(self, token: str) -> _Answer:
        pending = self._pending.get(token)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        try:
            answer = self._same_credential(self._answers.get(token), await self._ask(token))
            future.set_result(answer)
            if self._pending.get(token) is future:  # not forgotten meanwhile
                self._remember(token, answer)
            return answer
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it; nobody else needs to
            raise
        finally:
            if self._pending.get(token) is future:
                del self._pending[token]

    async def _ask(self, token: str) -> _Answer:
        now = self._clock()  # before the call: the answer's age counts from when identity may have read it
        try:
            response = await self._identity.AuthenticateToken(
                identity_service_pb2.AuthenticateTokenRequest(access_token=token), timeout=5
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
                return _Answer(None, now + self._ttl, now + self._ttl / 2)
            raise HttpError(503, "Service temporarily unavailable, try again", {"Retry-After": "1"}) from error
        expires = response.credential_expire_time.seconds
        lasts = max(0.0, min(self._ttl, expires - time.time() - CREDENTIAL_MARGIN_SECONDS))
        return _Answer(Viewer(response.principal, response.credential), now + lasts, now + lasts / 2, expires)

    def _same_credential(self, previous: _Answer | None, fresh: _Answer) -> _Answer:
        """The fresh answer, with the credential already in use when identity confirmed the same principal and that
        credential lives past the fresh answer's use: the services verified it once and remember it, and would
        have to verify a new one again. (A credential is not what revocation stops: the answer is.)"""
        if previous is None or previous.viewer is None or fresh.viewer is None:
            return fresh
        if previous.viewer.principal != fresh.viewer.principal:
            return fresh
        if previous.credential_expires - time.time() - CREDENTIAL_MARGIN_SECONDS < self._ttl:
            return fresh
        return replace(fresh, viewer=previous.viewer, credential_expires=previous.credential_expires)

    def _remember(self, token: str, answer: _Answer) -> None:
        if len(self._answers) >= MAX_CACHED:
            now = self._clock()
            self._answers = {key: kept for key, kept in self._answers.items() if kept.expires > now}
            if len(self._answers) >= MAX_CACHED:
                self._answers.clear()
        self._answers[token] = answer
