"""Composition root of the notification service: `python -m services.notification [--role all|api|worker]`."""

from chirp.notification.v1 import notification_service_pb2, notification_service_pb2_grpc
from services.notification.api import NotificationApi
from services.notification.projection import NotificationProjection
from services.notification.repository import NotificationRepository
from services.runtime.bootstrap import settings_and_logging
from services.runtime.graph_client import GraphClient
from services.runtime.projection import role_from_argv, run_projected_service
from services.runtime.resources import SharedResource
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS


def main() -> None:
    role = role_from_argv("python -m services.notification")
    settings = settings_and_logging()
    keyspace = settings.keyspace("notification")
    post_topic, graph_topic = settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name)
    graph = SharedResource(lambda: GraphClient(settings.graph_addr))
    run_projected_service(
        name="notification",
        role=role,
        port=settings.port_of(settings.notification_addr),
        settings=settings,
        topics=[post_topic, graph_topic],
        keyspace=keyspace,
        repository_of_keyspace=lambda session, projected: NotificationRepository(session, projected, keyspace),
        build_projection=lambda repo: NotificationProjection(repo, post_topic, graph_topic, settings.max_notified_mentions),
        add_api=lambda repo, server: notification_service_pb2_grpc.add_NotificationServiceServicer_to_server(
            NotificationApi(repo, graph), server
        ),
        service_name=notification_service_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name,
    )


if __name__ == "__main__":
    main()
