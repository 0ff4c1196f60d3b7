"""Mastodon's streaming API for the `user` and `user:notification` streams, over a WebSocket (/api/v1/streaming)
and over server-sent events (/api/v1/streaming/user, as Mastodon.py uses it).

Notifications come from the notification service's StreamNotifications. Chirp has no stream of home timeline
changes, so a user stream reads the newest page of the home timeline every POLL_SECONDS: posts newer than the
newest one seen are `update`s, and posts of the last page read that are gone from it are `delete`s. One open stream
costs one GetHomeTimeline call a POLL_SECONDS.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import structlog
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from chirp.notification.v1 import notification_service_pb2 as notification
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.edge import hydrate, render
from services.edge.auth import Viewer
from services.edge.calls import PUBLIC, Backends, Call, Routes, bearer_of, client_address, user
from services.edge.errors import OUTSIDE_SCOPES, HttpError
from services.edge.notifications import TYPE_OF
from services.runtime import scopes

log = structlog.get_logger(__name__)
routes = Routes()

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
# Posts a poll compares: a page this long is the window deletions are seen in.
POLL_PAGE = 40
STREAMS = {"user": "read:statuses", "user:notification": "read:notifications"}


@dataclass(frozen=True)
class Event:
    stream: str
    event: str
    payload: str  # JSON, or a status id for "delete"


async def _home_events(call: Call, stream: str, queue: asyncio.Queue) -> None:
    seen: list[int] | None = None
    while True:
        try:
            answer = await call.rpc(
                call.backends.timeline.GetHomeTimeline,
                timeline.GetHomeTimelineRequest(user_id=call.user_id, page_size=POLL_PAGE),
            )
        except HttpError as error:
            if error.status < 500:
                raise
            log.warning("streaming.home_poll_failed", status=error.status)
            await asyncio.sleep(POLL_SECONDS)
            continue
        posts = list(answer.posts)
        # By entry id, the id each item's status has: a repost arriving is an update with its reblog's id, and a
        # post that moves up to a newer repost deletes the reblog it was shown as before.
        ids = [hydrate.entry_id(post) for post in posts]
        if seen is not None:
            newest = seen[0] if seen else 0
            fresh = [post for post in posts if hydrate.entry_id(post) > newest]
            for shown in reversed(await hydrate.timeline_statuses(call, fresh)):
                await queue.put(Event(stream, "update", json.dumps(shown)))
            oldest = ids[-1] if len(ids) == POLL_PAGE else 0
            for gone in set(seen) - set(ids):
                if gone > oldest:
                    await queue.put(Event(stream, "delete", str(gone)))
        seen = ids
        await asyncio.sleep(POLL_SECONDS)


async def notification_entity(call: Call, found) -> dict | None:
    status = None
    if found.post_id:
        posts = await hydrate.posts(call, [found.post_id])
        if found.post_id not in posts:
            return None
        status = (await hydrate.statuses(call, [posts[found.post_id]]) or [None])[0]
    return {
        "id": found.notification_id,
        "type": TYPE_OF[found.kind],
        "created_at": render.iso_of(found.create_time),
        "group_key": found.group_key,
        "account": render.account(render.Author(found.actor_id, found.actor_handle), call.base),
        "status": status,
    }


async def _notification_events(call: Call, stream: str, queue: asyncio.Queue) -> None:
    after = ""
    while True:
        request = notification.StreamNotificationsRequest(user_id=call.user_id, after_notification_id=after)
        try:
            async for message in call.backends.notification.StreamNotifications(request, metadata=call.metadata):
                found = message.notification
                after = found.notification_id
                shown = await notification_entity(call, found)
                if shown is not None:
                    await queue.put(Event(stream, "notification", json.dumps(shown)))
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                raise
            log.warning("streaming.notifications_reconnect", code=error.code().name)
        await asyncio.sleep(POLL_SECONDS)


async def events(call: Call, stream: str) -> AsyncIterator[Event]:
    """The events of one stream until the caller stops reading, or a source fails (its error ends the stream)."""
    queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=1000)
    sources = [_notification_events(call, stream, queue)]
    if stream == "user":
        sources.append(_home_events(call, stream, queue))
    tasks = [asyncio.create_task(source) for source in sources]
    getter: asyncio.Task | None = None
    try:
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait([getter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                for task in done:
                    task.result()
                return
            yield getter.result()
    finally:
        for task in [*tasks, *([getter] if getter else [])]:
            task.cancel()


async def _sse(call: Call, stream: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b":)\n\n"
        iterator = events(call, stream).__aiter__()
        next_event = asyncio.ensure_future(iterator.__anext__())
        try:
            while True:
                done, _ = await asyncio.wait([next_event], timeout=HEARTBEAT_SECONDS)
                if not done:
                    yield b":thump\n\n"
                    continue
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    return
                yield f"event: {event.event}\ndata: {event.payload}\n\n".encode()
                next_event = asyncio.ensure_future(iterator.__anext__())
        finally:
            next_event.cancel()
            await asyncio.gather(next_event, return_exceptions=True)  # the generator must stop running first
            await iterator.aclose()

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/streaming/health", PUBLIC)
async def health(call: Call):
    return PlainTextResponse("OK")


@routes.get("/api/v1/streaming/user", user("read:statuses", token_in_query=True))
async def user_sse(call: Call):
    return await _sse(call, "user")


@routes.get("/api/v1/streaming/user/notification", user("read:notifications", token_in_query=True))
async def notification_sse(call: Call):
    return await _sse(call, "user:notification")


async def websocket(socket: WebSocket) -> None:
    """GET /api/v1/streaming?stream=user (or a {"type": "subscribe", "stream": ...} message once open)."""
    backends: Backends = socket.app.state.backends
    try:
        token = bearer_of(socket, True)  # type: ignore[arg-type]
        if token is None:
            raise HttpError(401, "The access token is invalid")
        viewer = await backends.tokens.viewer(token)
        if not viewer.is_user:
            raise HttpError(401, "The access token is invalid")
        backends.limits.check(client_address(socket), viewer.user_id)  # type: ignore[arg-type]
    except HttpError as error:
        await socket.close(code=4000 + error.status, reason=error.message)
        return
    protocol = socket.headers.get("sec-websocket-protocol")
    await socket.accept(subprotocol=protocol if protocol == token else None)
    call = Call(socket, viewer, backends)  # type: ignore[arg-type]
    subscriptions: dict[str, asyncio.Task] = {}
    try:
        first = socket.query_params.get("stream")
        if first:
            await _subscribe(socket, call, viewer, first, subscriptions)
        while True:
            message = await socket.receive_text()
            try:
                wanted = json.loads(message)
            except ValueError:
                continue
            if not isinstance(wanted, dict) or not isinstance(wanted.get("stream"), str):
                continue
            if wanted.get("type") == "subscribe":
                await _subscribe(socket, call, viewer, wanted["stream"], subscriptions)
            elif wanted.get("type") == "unsubscribe" and wanted["stream"] in subscriptions:
                subscriptions.pop(wanted["stream"]).cancel()
    except WebSocketDisconnect:
        pass
    finally:
        for task in subscriptions.values():
            task.cancel()


async def _subscribe(socket: WebSocket, call: Call, viewer: Viewer, stream: str, subscriptions: dict) -> None:
    scope = STREAMS.get(stream)
    if scope is None:
        await socket.send_json({"error": "Unknown stream type", "status": 400})
        return
    if not scopes.covers(viewer.principal.scopes, scope):
        await socket.send_json({"error": OUTSIDE_SCOPES, "status": 403})
        return
    if stream in subscriptions:
        return

    async def forward() -> None:
        try:
            async for event in events(call, stream):
                await socket.send_text(
                    json.dumps({"stream": [event.stream], "event": event.event, "payload": event.payload})
                )
        except HttpError as error:
            await socket.send_json({"error": error.message, "status": error.status})

    subscriptions[stream] = asyncio.create_task(forward())
