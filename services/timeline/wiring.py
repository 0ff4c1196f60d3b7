"""The timeline service, declared once: what it projects from which topics into which tables, and its read API.
`python -m services.timeline`, `chirp projections rebuild timeline` and the bench all start from here."""

from chirp.timeline.v1 import timeline_service_pb2, timeline_service_pb2_grpc
from services.graph.client import GraphClient
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.service import ApiSpec, Resources, ServiceSpec
from services.runtime.tail import EventTail
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.api import ACCESS, TimelineApi
from services.timeline.hydration_cache import HydrationCache
from services.timeline.projection import TimelineProjection
from services.timeline.reader_state import ReaderState
from services.timeline.repository import TimelineRepository


def reader_state(session: CassandraSession, settings: Settings) -> ReaderState:
    """The state every version shares, in the base keyspace."""
    return ReaderState(session, settings.keyspace("timeline"))


def _projection(
    repo: TimelineRepository, session: CassandraSession, settings: Settings, *, count_once_replayed: bool = False
) -> TimelineProjection:
    return TimelineProjection(
        repo,
        reader_state(session, settings),
        settings.topic(POST_EVENTS.name),
        settings.topic(GRAPH_EVENTS.name),
        settings.fanout_threshold,
        count_once_replayed=count_once_replayed,
    )


PROJECTION = ProjectionSpec(
    service="timeline",
    topics=(POST_EVENTS, GRAPH_EVENTS),
    repository=lambda session, keyspace, base: TimelineRepository(session, keyspace),
    projection=_projection,
    replay_projection=lambda repo, session, settings: _projection(repo, session, settings, count_once_replayed=True),
)


async def _api(resources: Resources) -> TimelineApi:
    settings = resources.settings
    graph = GraphClient(settings.graph_addr)
    resources.on_close(graph.close)
    readers = reader_state(await resources.session(), settings)
    return TimelineApi(resources.serving(PROJECTION), readers, graph, await _hydration_cache(resources))


async def _hydration_cache(resources: Resources) -> HydrationCache:
    """Posts and people in memory, kept true by a tail of the post and graph topics; none with both limits 0."""
    settings = resources.settings
    if not settings.timeline_cache_posts and not settings.timeline_cache_users:
        return HydrationCache(0, 0, following=lambda: False)
    tail: EventTail | None = None
    cache = HydrationCache(
        settings.timeline_cache_posts,
        settings.timeline_cache_users,
        following=lambda: tail is not None and tail.following,
    )
    tail = EventTail(
        settings, [settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name)], cache.on_record, "timeline"
    )
    await tail.start()
    resources.on_close(tail.stop)
    return cache


SERVICE = ServiceSpec(
    name="timeline",
    api=ApiSpec(
        service=timeline_service_pb2.DESCRIPTOR.services_by_name["TimelineService"],
        address=lambda settings: settings.timeline_addr,
        add_to_server=timeline_service_pb2_grpc.add_TimelineServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
    projection=PROJECTION,
)
