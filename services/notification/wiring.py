"""The notification service, declared once: what it projects from which topics into which tables, and its API.
`python -m services.notification`, `chirp projections rebuild notifications` and the tests start from here."""

from datetime import timedelta

from chirp.notification.v1 import notification_service_pb2, notification_service_pb2_grpc
from services.graph.client import GraphClient
from services.notification.api import ACCESS, NotificationApi
from services.notification.projection import NotificationProjection
from services.notification.repository import NotificationRepository
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.service import ApiSpec, Resources, ServiceSpec
from services.runtime.topics import GRAPH_EVENTS, NOTIFICATION_EVENTS, POST_EVENTS


def _projection(repo: NotificationRepository, session: CassandraSession, settings: Settings) -> NotificationProjection:
    return NotificationProjection(
        repo,
        settings.topic(POST_EVENTS.name),
        settings.topic(GRAPH_EVENTS.name),
        settings.max_notified_mentions,
        notification_topic=settings.topic(NOTIFICATION_EVENTS.name),
        follow_window=timedelta(seconds=settings.notification_follow_window_seconds),
    )


PROJECTION = ProjectionSpec(
    service="notification",
    topics=(POST_EVENTS, GRAPH_EVENTS, NOTIFICATION_EVENTS),
    repository=NotificationRepository,
    projection=_projection,
)


async def _api(resources: Resources) -> NotificationApi:
    graph = GraphClient(resources.settings.graph_addr)
    resources.on_close(graph.close)
    publisher = await resources.publisher()
    return NotificationApi(
        resources.serving(PROJECTION), graph, publisher, resources.settings.topic(NOTIFICATION_EVENTS.name)
    )


SERVICE = ServiceSpec(
    name="notification",
    api=ApiSpec(
        service=notification_service_pb2.DESCRIPTOR.services_by_name["NotificationService"],
        address=lambda settings: settings.notification_addr,
        add_to_server=notification_service_pb2_grpc.add_NotificationServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
    projection=PROJECTION,
)
