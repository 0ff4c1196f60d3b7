"""What every endpoint of the edge goes through: who may call it (`Access`), the request's viewer and rate limit,
its body (form-encoded or JSON), its Mastodon id and page parameters, and the gRPC stubs it reaches the services by.

Each resource module declares its endpoints on a `Routes` with their access; `services/edge/app.py` collects them,
and the access-matrix test walks the same list, so no endpoint can be added without a rule.
"""

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chirp.graph.v1.graph_service_pb2_grpc import GraphServiceStub
from chirp.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from chirp.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from chirp.post.v1.post_service_pb2_grpc import PostServiceStub
from chirp.search.v1.search_service_pb2_grpc import SearchServiceStub
from chirp.timeline.v1.timeline_service_pb2_grpc import TimelineServiceStub
from chirp.trends.v1.trends_service_pb2_grpc import TrendsServiceStub
from services.edge.auth import TokenCache, Viewer
from services.edge.errors import OUTSIDE_SCOPES, HttpError, from_grpc, unauthorized, unprocessable
from services.edge.ratelimit import RateLimits
from services.runtime import scopes
from services.runtime.config import Settings

# Seconds a gRPC call of the edge may take.
TIMEOUT = 10
# Bodies larger than this are refused (413): no Mastodon call needs more without media.
MAX_BODY_BYTES = 64 * 1024
MAX_ID = (1 << 63) - 1


@dataclass
class Backends:
    """The services, reached through their generated stubs, and what the edge keeps in memory."""

    settings: Settings
    identity: IdentityServiceStub
    graph: GraphServiceStub
    post: PostServiceStub
    timeline: TimelineServiceStub
    notification: NotificationServiceStub
    search: SearchServiceStub
    trends: TrendsServiceStub
    tokens: TokenCache
    limits: RateLimits


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint. `token`: "none" (OAuth endpoints: the request carries its own proof), "optional"
    (public reads: a token that is there must be valid), "app" (an app's own token or a user's), "user" (a user's
    token); `scope` is the Mastodon scope the token must hold."""

    token: str
    scope: str | None = None
    # The streaming API may take its token as the `access_token` query parameter, as Mastodon's does.
    token_in_query: bool = False

    @property
    def needs_token(self) -> bool:
        return self.token in ("app", "user")


PUBLIC = Access("optional")
OWN_PROOF = Access("none")


def user(scope: str, token_in_query: bool = False) -> Access:
    return Access("user", scope, token_in_query)


def app_or_user(scope: str | None = None) -> Access:
    return Access("app", scope)


@dataclass
class Call:
    """One request: the viewer (None when anonymous), the services, and helpers to read it the Mastodon way."""

    request: Request
    viewer: Viewer | None
    backends: Backends
    _body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def user_id(self) -> int:
        assert self.viewer is not None, "endpoint declared without a user token"
        return self.viewer.user_id

    @property
    def metadata(self) -> tuple[tuple[str, str], ...] | None:
        return self.viewer.metadata if self.viewer else None

    @property
    def token(self) -> str:
        """The access token the request came with (an app's, for registering people)."""
        return bearer_of(self.request, False) or ""

    @functools.cached_property
    def base(self) -> str:
        """The edge's URL, for links in what it answers (once a request: every status of a page links with it)."""
        configured = self.backends.settings.edge_public_url
        base = configured or str(self.request.base_url)
        return ("http" + base[2:] if base.startswith("ws") else base).rstrip("/")

    async def rpc(self, method: Callable[..., Awaitable[Any]], message: Any) -> Any:
        """A gRPC call with the viewer's credential; a refusal becomes its HTTP error (errors.from_grpc)."""
        try:
            return await method(message, metadata=self.metadata, timeout=TIMEOUT)
        except grpc.aio.AioRpcError as error:
            raise from_grpc(error) from error

    async def body(self) -> dict[str, Any]:
        """The parameters of a POST, PUT or PATCH: a JSON object, a form, or the query string (as Rails merges
        them); `name[]` keys become lists. Anything else is 422."""
        if self._body is None:
            self._body = dict(_params(self.request.query_params))
            content_type = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
            raw = await self.request.body()
            if len(raw) > MAX_BODY_BYTES:
                raise HttpError(413, "Request entity too large")
            if content_type == "application/json" and raw.strip():
                try:
                    parsed = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    raise unprocessable("the body is not valid JSON") from None
                if not isinstance(parsed, dict):
                    raise unprocessable("the JSON body must be an object")
                self._body |= parsed
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data") and raw:
                try:
                    form: FormData = await self.request.form()
                except Exception:
                    raise unprocessable("the form could not be read") from None
                self._body |= _params(form)
        return self._body

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def query_list(self, name: str) -> list[str]:
        return self.request.query_params.getlist(f"{name}[]") or self.request.query_params.getlist(name)

    def path_id(self, name: str = "id") -> int:
        """A numeric id in the path; 404 for anything else, as Mastodon answers an unknown id."""
        return parse_id(self.request.path_params[name])

    def request_id(self) -> str:
        """The Idempotency-Key as the request_id of the gRPC call: hashed with the account, so another account
        reusing the key neither collides with nor claims this one's request."""
        key = self.request.headers.get("idempotency-key", "")
        if not key:
            return ""
        owner = self.viewer.user_id if self.viewer else 0
        return "edge:" + hashlib.sha256(f"{owner}:{key}".encode()).hexdigest()[:40]


def _params(pairs) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs.multi_items():
        if key.endswith("[]"):
            found.setdefault(key[:-2], []).append(value)
        else:
            found[key] = value
    return found


def parse_id(value: Any) -> int:
    """A Mastodon id (a string of digits) as Chirp's int64; 404 otherwise."""
    text = str(value)
    if not text.isdigit() or not text.isascii() or len(text) > 19 or int(text) > MAX_ID or int(text) == 0:
        raise HttpError(404, "Record not found")
    return int(text)


def text_param(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise unprocessable(f"{name} must be a string")
    return str(value)


def flag(value: Any) -> bool:
    """A Rails boolean: true, "true", "1", "on"."""
    return value is True or str(value).lower() in ("true", "1", "on", "yes")


class FastJSONResponse(JSONResponse):
    """Written with orjson (a 20-status page in about a fifth of the standard library's time): the same compact
    UTF-8 JSON; keys that are not strings are written as strings, as the standard library does."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return FastJSONResponse(payload, status_code=status, headers=headers)


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    access: Access
    handler: Handler


class Routes:
    """The endpoints one resource module declares."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def add(self, method: str, path: str, access: Access) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, access, handler))
            return handler

        return declare

    def get(self, path: str, access: Access) -> Callable[[Handler], Handler]:
        return self.add("GET", path, access)

    def post(self, path: str, access: Access) -> Callable[[Handler], Handler]:
        return self.add("POST", path, access)

    def delete(self, path: str, access: Access) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, access)

    def patch(self, path: str, access: Access) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, access)

    def put(self, path: str, access: Access) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, access)


def bearer_of(request: Request, token_in_query: bool) -> str | None:
    """The access token of a request; None without one; 401 for an Authorization header that is not Bearer."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        return token.strip()
    if token_in_query:
        return request.query_params.get("access_token") or request.headers.get("sec-websocket-protocol") or None
    return None


async def viewer_of(request: Request, access: Access, backends: Backends) -> Viewer | None:
    """Checks the token an endpoint's access asks for: 401 without a valid one, 403 without the scope."""
    if access.token == "none":
        return None
    token = bearer_of(request, access.token_in_query)
    if token is None:
        if access.needs_token:
            raise unauthorized()
        return None
    viewer = await backends.tokens.viewer(token)
    if access.token == "user" and not viewer.is_user:
        raise HttpError(422, "This method requires an authenticated user")
    if access.scope and not scopes.covers(viewer.principal.scopes, access.scope):
        raise HttpError(403, OUTSIDE_SCOPES)
    return viewer


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def route_of(endpoint: Endpoint) -> Route:
    async def serve(request: Request) -> Response:
        backends: Backends = request.app.state.backends
        verdict = None
        try:
            viewer = await viewer_of(request, endpoint.access, backends)
            verdict = backends.limits.check(client_address(request), viewer.user_id if viewer else None)
            response = await endpoint.handler(Call(request, viewer, backends))
        except HttpError as error:
            response = error.response()
        if verdict is not None:
            response.headers.update(verdict.headers())
        return response

    return Route(endpoint.path, serve, methods=[endpoint.method], name=f"{endpoint.method} {endpoint.path}")
