"""gRPC API of the notification service."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from chirp.notification.v1 import notification_pb2, notification_service_pb2_grpc
from chirp.notification.v1 import notification_service_pb2 as pb
from services.graph.client import GraphClient
from services.notification.domain import (
    ACTOR_POSITION,
    KINDS,
    PAGE_POSITION,
    Hidden,
    Preferences,
    group_of,
    notification_id,
    parse_notification_id,
    shown,
)
from services.notification.repository import FeedRow, NotificationRepository
from services.runtime.access import acting
from services.runtime.clock import datetime_from_ms, ms_of, timestamp_from_datetime, utc_now
from services.runtime.envelopes import event_id_for
from services.runtime.errors import InvalidArgument, NotFound, Unavailable
from services.runtime.kafka import EventPublisher
from services.runtime.pagination import clamp_page_size, decode_token, encode_token
from services.runtime.projection.versions import ServingRepository
from services.runtime.validation import check_requests

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_UNREAD = 1000
# The stream reads the recipient's partition this often: any replica serves any client, with no broker between.
POLL_SECONDS = 0.2
# Acts projected late (another partition was behind) still reach a stream if they are at most this much older
# than the newest act it has seen.
LATE_ACTS = timedelta(seconds=5)

Position = tuple[datetime, str]

log = structlog.get_logger(__name__)


def _position(row: FeedRow) -> Position:
    return row.create_time, row.group_key


def _parse_id(value: str, field: str = "notification_id") -> Position:
    """The position an id stands for; INVALID_ARGUMENT for one this API did not give, nor could have given yet."""
    try:
        ms, key = parse_notification_id(value, ms_of(datetime.now(UTC)))
    except ValueError as error:
        raise InvalidArgument(
            "NOTIFICATION_ID_INVALID", f"{field} {value!r} is not a notification id this API returned: {error}"
        ) from None
    return datetime_from_ms(ms), key


def _id_of(position: Position) -> str:
    return notification_id(ms_of(position[0]), position[1])


# Who may call what (services/runtime/access.py): notifications, read positions and preferences are their owner's.
ACCESS = {
    "ListNotifications": acting("user_id", "read:notifications"),
    "ListNotificationActors": acting("user_id", "read:notifications"),
    "GetUnreadCount": acting("user_id", "read:notifications"),
    "MarkRead": acting("user_id", "write:statuses"),
    "GetPreferences": acting("user_id", "read:notifications"),
    "UpdatePreferences": acting("user_id", "write:notifications"),
    "StreamNotifications": acting("user_id", "read:notifications"),
    "DismissNotification": acting("user_id", "write:notifications"),
    "ClearNotifications": acting("user_id", "write:notifications"),
}


class NotificationApi(notification_service_pb2_grpc.NotificationServiceServicer):
    def __init__(
        self,
        repository: ServingRepository[NotificationRepository],
        graph: GraphClient,
        publisher: EventPublisher,
        topic: str,
    ) -> None:
        self._repository = repository
        self._graph = graph
        self._publisher = publisher
        self._topic = topic
        check_requests(self, pb.DESCRIPTOR.services_by_name["NotificationService"])

    async def ListNotifications(self, request: pb.ListNotificationsRequest, context) -> pb.ListNotificationsResponse:
        repo = await self._repository.get()
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys=PAGE_POSITION)
        before = (datetime_from_ms(position["time"]), position["group"]) if position else None
        found = await self._shown_before(repo, request.user_id, before, size + 1, request.kind)
        if not found:
            await self._require_user(repo, request.user_id)
        page = found[:size]
        token = ""
        if len(found) > size:
            last = page[-1][0]
            token = encode_token({"time": ms_of(last.create_time), "group": last.group_key})
        notifications = await self._render(repo, page, await repo.read_position(request.user_id))
        return pb.ListNotificationsResponse(notifications=notifications, next_page_token=token)

    async def ListNotificationActors(
        self, request: pb.ListNotificationActorsRequest, context
    ) -> pb.ListNotificationActorsResponse:
        """A page of the group's actors, newest first; the token is the last one's (time, actor id)."""
        repo = await self._repository.get()
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        try:
            key = group_of(request.notification_id)
        except ValueError:
            raise InvalidArgument(
                "NOTIFICATION_ID_INVALID",
                f"notification_id {request.notification_id!r} is neither a notification id nor a group key this API"
                " returned",
            ) from None
        position = decode_token(request.page_token, keys=ACTOR_POSITION)
        after = (datetime_from_ms(position["time"]), position["actor"]) if position else None
        actors = await repo.actors(request.user_id, key, after, size + 1)
        if not position and not actors:
            await self._require_user(repo, request.user_id)
        page = actors[:size]
        token = encode_token({"time": ms_of(page[-1][1]), "actor": page[-1][0]}) if len(actors) > size else ""
        handles = await repo.handles({actor_id for actor_id, _ in page})
        return pb.ListNotificationActorsResponse(
            actors=[
                notification_pb2.NotificationActor(
                    user_id=actor_id, handle=handles.get(actor_id, ""), create_time=timestamp_from_datetime(at)
                )
                for actor_id, at in page
            ],
            next_page_token=token,
        )

    async def GetUnreadCount(self, request: pb.GetUnreadCountRequest, context) -> pb.GetUnreadCountResponse:
        repo = await self._repository.get()
        read = await repo.read_position(request.user_id)
        rows = await (
            repo.feed_after(request.user_id, read, MAX_UNREAD)
            if read
            else repo.feed_before(request.user_id, None, MAX_UNREAD)
        )
        if not rows:
            await self._require_user(repo, request.user_id)
        # One row per group: each row is a notification (a group's previous row lives a moment at most).
        return pb.GetUnreadCountResponse(unread_count=len({row.group_key for row in rows}))

    async def MarkRead(self, request: pb.MarkReadRequest, context) -> pb.MarkReadResponse:
        repo = await self._repository.get()
        # Checked before the request id is claimed: a refusal writes nothing.
        up_to = _parse_id(request.notification_id) if request.notification_id else None
        await self._require_user(repo, request.user_id)

        async def mark() -> pb.MarkReadResponse:
            if up_to:
                await repo.save_read_position(request.user_id, up_to)
            else:
                newest = await repo.feed_before(request.user_id, None, 1)
                if newest:
                    await repo.save_read_position(request.user_id, _position(newest[0]))
            read = await repo.read_position(request.user_id)
            return pb.MarkReadResponse(read_up_to=_id_of(read) if read else "")

        return await repo.requests.run(request.request_id, request, mark, pb.MarkReadResponse)

    async def GetPreferences(self, request: pb.GetPreferencesRequest, context) -> pb.GetPreferencesResponse:
        repo = await self._repository.get()
        preferences = await repo.preferences(request.user_id)
        if preferences == Preferences():  # nothing stored: maybe no such user
            await self._require_user(repo, request.user_id)
        return pb.GetPreferencesResponse(preferences=_preferences_message(preferences))

    async def UpdatePreferences(self, request: pb.UpdatePreferencesRequest, context) -> pb.UpdatePreferencesResponse:
        repo = await self._repository.get()
        unknown = [kind for kind in request.preferences.disabled_kinds if kind not in KINDS]
        if unknown:
            raise InvalidArgument(
                "NOTIFICATION_KIND_INVALID", f"disabled_kinds must name notification kinds, got {unknown}"
            )
        preferences = Preferences(frozenset(request.preferences.disabled_kinds), request.preferences.only_following)
        await self._require_user(repo, request.user_id)

        async def update() -> pb.UpdatePreferencesResponse:
            """Stored, then published (PreferencesUpdated, keyed by the user): the projection judges acts by the
            preferences of their time from those events. A failed publication fails the call, and its retry
            stores and publishes again; until then acts after the change are judged by the stored preferences."""
            user_id = request.user_id
            previous = await repo.preferences(user_id)
            now = utc_now()
            await repo.save_preferences(user_id, preferences, now)
            event = notification_pb2.NotificationEvent(
                event_id=event_id_for("preferences-updated", user_id, ms_of(now)),
                occurred_at=timestamp_from_datetime(now),
                preferences_updated=notification_pb2.PreferencesUpdated(
                    user_id=user_id,
                    preferences=_preferences_message(preferences),
                    previous=_preferences_message(previous),
                ),
            )
            try:
                await self._publisher.publish(self._topic, user_id, event)
            except Exception as error:
                log.warning("preferences.publish_failed", user_id=user_id, error=repr(error))
                raise Unavailable(
                    "EVENT_LOG_UNAVAILABLE", "the preferences were stored but not published; try again"
                ) from error
            return pb.UpdatePreferencesResponse(preferences=_preferences_message(preferences))

        return await repo.requests.run(request.request_id, request, update, pb.UpdatePreferencesResponse)

    async def DismissNotification(
        self, request: pb.DismissNotificationRequest, context
    ) -> pb.DismissNotificationResponse:
        repo = await self._repository.get()
        moment, key = _parse_id(request.notification_id)

        async def dismiss() -> pb.DismissNotificationResponse:
            await repo.dismiss(request.user_id, key, moment)
            return pb.DismissNotificationResponse()

        return await repo.requests.run(request.request_id, request, dismiss, pb.DismissNotificationResponse)

    async def ClearNotifications(self, request: pb.ClearNotificationsRequest, context) -> pb.ClearNotificationsResponse:
        repo = await self._repository.get()

        async def clear() -> pb.ClearNotificationsResponse:
            newest = await repo.feed_before(request.user_id, None, 1)
            if newest:
                await repo.clear(request.user_id, newest[0].create_time)
            return pb.ClearNotificationsResponse()

        return await repo.requests.run(request.request_id, request, clear, pb.ClearNotificationsResponse)

    async def StreamNotifications(
        self, request: pb.StreamNotificationsRequest, context
    ) -> AsyncIterator[pb.StreamNotificationsResponse]:
        """Polls the recipient's partition for acts after the cursor, and for acts up to LATE_ACTS older that were
        projected late, sending each shown one once. What was there up to the client's cursor counts as seen."""
        repo = await self._repository.get()
        user_id = request.user_id
        if request.after_notification_id:
            cursor = _parse_id(request.after_notification_id, "after_notification_id")
        else:
            newest = await repo.feed_before(user_id, None, 1)
            cursor = _position(newest[0]) if newest else (datetime_from_ms(0), "")
        await self._require_user(repo, user_id)

        async def recent() -> list[FeedRow]:
            """Acts in the late window up to the cursor, then the oldest acts after it."""
            late = await repo.feed_after(user_id, (cursor[0] - LATE_ACTS, ""), MAX_UNREAD)
            return [row for row in late if _position(row) <= cursor] + await repo.feed_after(
                user_id, cursor, MAX_PAGE_SIZE
            )

        seen = {_position(row) for row in await recent() if _position(row) <= cursor}
        while True:
            repo = await self._repository.get()  # a rebuilt version may have started serving
            fresh = [row for row in await recent() if _position(row) not in seen]
            if fresh:
                seen.update(_position(row) for row in fresh)
                read = await repo.read_position(user_id)
                for notification in await self._render(repo, await self._shown(repo, fresh), read):
                    yield pb.StreamNotificationsResponse(notification=notification)
                cursor = max(cursor, _position(fresh[-1]))
                seen = {position for position in seen if position[0] >= cursor[0] - LATE_ACTS}
            await asyncio.sleep(POLL_SECONDS)

    async def _require_user(self, repo: NotificationRepository, user_id: int) -> None:
        """NOT_FOUND unless the user exists: known to this projection, or else (created a moment ago, not projected
        yet) to the graph, which alone knows."""
        if not await repo.handles({user_id}) and not await self._graph.user_exists(user_id):
            raise NotFound("USER_NOT_FOUND", f"there is no user with id {user_id}", user_id=str(user_id))

    async def _shown_before(
        self, repo: NotificationRepository, user_id: int, before: Position | None, limit: int, kind: int
    ) -> list[tuple[FeedRow, int]]:
        """Up to `limit` shown notifications older than `before`, newest first, skipping superseded acts."""
        found: list[tuple[FeedRow, int]] = []
        while len(found) < limit:
            rows = await repo.feed_before(user_id, before, limit)
            found += await self._shown(repo, [row for row in rows if not kind or row.kind == kind])
            if len(rows) < limit:
                break
            before = _position(rows[-1])
        return found[:limit]

    async def _shown(self, repo: NotificationRepository, rows: Sequence[FeedRow]) -> list[tuple[FeedRow, int]]:
        """The rows that stand for their group now, each with the group's size (up to MAX_COUNTED_ACTORS), none the
        user dismissed or cleared: one bounded slice of each group, whatever its size, and the page's dismissals."""
        hidden, groups = await asyncio.gather(
            repo.hidden(rows[0].recipient_id, {row.group_key for row in rows}) if rows else _nothing_hidden(),
            asyncio.gather(*(repo.group(row.recipient_id, row.group_key) for row in rows)),
        )
        return [
            (row, group.size)
            for row, group in zip(rows, groups, strict=True)
            if shown(row.create_time, group.size, group.newest_act_time)
            and not hidden.hides(row.create_time, row.group_key)
        ]

    async def _render(
        self, repo: NotificationRepository, found: Sequence[tuple[FeedRow, int]], read: Position | None
    ) -> list[notification_pb2.Notification]:
        handles = await repo.handles({row.actor_id for row, _ in found})
        return [
            notification_pb2.Notification(
                notification_id=_id_of(_position(row)),
                recipient_id=row.recipient_id,
                kind=row.kind,
                actor_id=row.actor_id,
                actor_handle=handles.get(row.actor_id, ""),
                post_id=row.post_id,
                post_text=row.post_text,
                create_time=timestamp_from_datetime(row.create_time),
                group_key=row.group_key,
                actor_count=size,
                unread=read is None or _position(row) > read,
            )
            for row, size in found
        ]


async def _nothing_hidden() -> Hidden:
    return Hidden()


def _preferences_message(preferences: Preferences) -> notification_pb2.NotificationPreferences:
    return notification_pb2.NotificationPreferences(
        disabled_kinds=sorted(preferences.disabled_kinds), only_following=preferences.only_following
    )
