"""gRPC API of the notification service."""

from datetime import datetime, timezone
from uuid import UUID

from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as pb
from chirp.notification.v1 import notification_service_pb2_grpc
from services.notification.repository import NotificationRepository
from services.runtime.errors import NotFound
from services.runtime.events import ms_of, timestamp_from_datetime
from services.runtime.pagination import clamp_page_size, decode_token, encode_token
from services.runtime.resources import SharedResource

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class NotificationApi(notification_service_pb2_grpc.NotificationServiceServicer):
    def __init__(self, repository: SharedResource, graph: SharedResource) -> None:
        self._repository = repository
        self._graph = graph

    async def ListNotifications(self, request: pb.ListNotificationsRequest, context) -> pb.ListNotificationsResponse:
        repo: NotificationRepository = await self._repository.get()
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys=("time", "id"))
        before = (datetime.fromtimestamp(position["time"] / 1000, tz=timezone.utc), UUID(position["id"])) if position else None
        rows = await repo.page(request.user_id, before, size + 1)
        if not rows and not await repo.handles({request.user_id}):
            # Unknown to this projection: either no such user, or one created a moment ago. Only the graph knows.
            if not await (await self._graph.get()).user_exists(request.user_id):
                raise NotFound("USER_NOT_FOUND", f"there is no user with id {request.user_id}", user_id=str(request.user_id))
        more = len(rows) > size
        rows = rows[:size]
        handles = await repo.handles({row.actor_id for row in rows})
        items = [
            notification_pb2.Notification(
                notification_id=str(row.notification_id),
                recipient_id=row.recipient_id,
                kind=row.kind,
                actor_id=row.actor_id,
                actor_handle=handles.get(row.actor_id, ""),
                post_id=row.post_id,
                post_text=row.post_text,
                create_time=timestamp_from_datetime(row.create_time),
            )
            for row in rows
        ]
        token = encode_token({"time": ms_of(rows[-1].create_time), "id": str(rows[-1].notification_id)}) if more else ""
        return pb.ListNotificationsResponse(notifications=items, next_page_token=token)
