"""Composition root of the timeline service: `python -m services.timeline [--role all|api|worker]`.

`all` (the default) projects the topics and serves reads in one process; `api` and `worker` split them so that
reads and fan-out scale separately.
"""

from chirp.timeline.v1 import timeline_service_pb2, timeline_service_pb2_grpc
from services.runtime.bootstrap import settings_and_logging
from services.runtime.graph_client import GraphClient
from services.runtime.projection import role_from_argv, run_projected_service
from services.runtime.resources import SharedResource
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.api import TimelineApi
from services.timeline.projection import TimelineProjection
from services.timeline.repository import TimelineRepository


def main() -> None:
    role = role_from_argv("python -m services.timeline")
    settings = settings_and_logging()
    keyspace = settings.keyspace("timeline")
    post_topic, graph_topic = settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name)
    graph = SharedResource(lambda: GraphClient(settings.graph_addr))
    run_projected_service(
        name="timeline",
        role=role,
        port=settings.port_of(settings.timeline_addr),
        settings=settings,
        topics=[post_topic, graph_topic],
        keyspace=keyspace,
        repository_of_keyspace=lambda session, versioned: TimelineRepository(session, versioned, keyspace),
        build_projection=lambda repo: TimelineProjection(repo, post_topic, graph_topic, settings.fanout_threshold),
        add_api=lambda repo, server: timeline_service_pb2_grpc.add_TimelineServiceServicer_to_server(
            TimelineApi(repo, graph), server
        ),
        service_name=timeline_service_pb2.DESCRIPTOR.services_by_name["TimelineService"].full_name,
    )


if __name__ == "__main__":
    main()
