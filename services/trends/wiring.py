"""The trends service, declared once: what it projects from which topics into which tables, and its read API.
`python -m services.trends`, `chirp projections rebuild trends` and the bench all start from here."""

from chirp.trends.v1 import trends_service_pb2, trends_service_pb2_grpc
from services.graph.client import GraphClient
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.service import ApiSpec, Resources, ServiceSpec
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.trends.api import ACCESS, TrendsApi
from services.trends.projection import TrendsProjection
from services.trends.repository import TrendsRepository
from services.trends.service import TrendsReader


def _projection(repo: TrendsRepository, session: CassandraSession, settings: Settings) -> TrendsProjection:
    return TrendsProjection(repo, settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name))


PROJECTION = ProjectionSpec(
    service="trends",
    topics=(POST_EVENTS, GRAPH_EVENTS),
    repository=lambda session, keyspace, base: TrendsRepository(session, keyspace),
    projection=_projection,
)


async def _api(resources: Resources) -> TrendsApi:
    graph = GraphClient(resources.settings.graph_addr)
    resources.on_close(graph.close)
    serving = resources.serving(PROJECTION)
    return TrendsApi(
        TrendsReader(serving.get, refresh_seconds=resources.settings.trends_refresh_seconds), serving.get, graph
    )


SERVICE = ServiceSpec(
    name="trends",
    api=ApiSpec(
        service=trends_service_pb2.DESCRIPTOR.services_by_name["TrendsService"],
        address=lambda settings: settings.trends_addr,
        add_to_server=trends_service_pb2_grpc.add_TrendsServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
    projection=PROJECTION,
)
