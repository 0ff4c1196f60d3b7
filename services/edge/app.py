"""The edge's ASGI app: every resource module's endpoints, the streaming WebSocket, and the errors that escape an
endpoint answered the Mastodon way (a service's refusal as its HTTP error, anything else a logged 500)."""

import zlib

import grpc
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from services.edge import (
    accounts,
    filters,
    instance,
    notifications,
    oauth,
    search,
    statuses,
    streaming,
    timelines,
    trends,
)
from services.edge.calls import Endpoint, route_of
from services.edge.errors import from_grpc

log = structlog.get_logger(__name__)

# search before accounts: /api/v1/accounts/search must be routed before /api/v1/accounts/{id}.
MODULES = (instance, oauth, search, accounts, statuses, timelines, notifications, filters, trends, streaming)


def endpoints() -> list[Endpoint]:
    """Every HTTP endpoint and its access, in routing order (what the access-matrix test walks)."""
    return [endpoint for module in MODULES for endpoint in module.routes.endpoints]


def _grey_png() -> bytes:
    """A 1x1 grey PNG: the avatar and header of every account (Chirp has no media), served without assets."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x99")) + chunk(b"IEND", b"")
    )


PLACEHOLDER = _grey_png()


async def _placeholder(request: Request) -> Response:
    return Response(PLACEHOLDER, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


async def _grpc_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, grpc.aio.AioRpcError)
    return from_grpc(error).response()


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = "Record not found" if error.status_code == 404 else error.detail
    return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)


async def _bug(request: Request, error: Exception) -> Response:
    log.exception("edge.unhandled", path=request.url.path, error=repr(error))
    return JSONResponse({"error": "Internal error"}, status_code=500)


def build(lifespan=None) -> Starlette:
    routes = [
        *(route_of(endpoint) for endpoint in endpoints()),
        WebSocketRoute("/api/v1/streaming", streaming.websocket),
        WebSocketRoute("/api/v1/streaming/", streaming.websocket),
        Route("/avatars/original/missing.png", _placeholder),
        Route("/headers/original/missing.png", _placeholder),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={grpc.aio.AioRpcError: _grpc_error, HTTPException: _http_error, Exception: _bug},
    )
