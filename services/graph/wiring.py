"""The graph service, declared once: its gRPC API over its tables, and the projection that keeps the counts
GetUser answers (services/graph/counts.py) from the graph topic, its repartition by followee and the post topic."""

from chirp.graph.v1 import graph_service_pb2, graph_service_pb2_grpc
from services.graph.api import ACCESS, GraphApi
from services.graph.counts import CountProjection
from services.graph.repository import GraphRepository
from services.graph.service import GraphService
from services.runtime.bootstrap import id_generator
from services.runtime.idempotency import IdempotentRequests
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.service import ApiSpec, Resources, ServiceSpec
from services.runtime.topics import GRAPH_COUNTS, GRAPH_EVENTS, POST_EVENTS
from services.text import Profile

COUNTS = ProjectionSpec(
    service="graph",
    topics=(GRAPH_EVENTS, GRAPH_COUNTS, POST_EVENTS),
    repository=lambda session, keyspace, base: GraphRepository(session, keyspace),
    projection=lambda repo, session, settings: CountProjection(repo, settings),
    # One table in the graph's own keyspace, replayable in place (every write is idempotent): no versions.
    versioned=False,
    # Not the `chirp-graph` of the post counts it replaces: a new group reads every topic from the beginning.
    group="graph-counts",
)


async def _api(resources: Resources) -> GraphApi:
    settings = resources.settings
    session = await resources.session()
    keyspace = settings.keyspace("graph")
    service = GraphService(
        GraphRepository(session, keyspace),
        await resources.publisher(),
        id_generator(settings),
        settings.topic(GRAPH_EVENTS.name),
        Profile(settings.text_profile),
    )
    return GraphApi(service, IdempotentRequests(session, keyspace))


SERVICE = ServiceSpec(
    name="graph",
    api=ApiSpec(
        service=graph_service_pb2.DESCRIPTOR.services_by_name["GraphService"],
        address=lambda settings: settings.graph_addr,
        add_to_server=graph_service_pb2_grpc.add_GraphServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
    projection=COUNTS,
)
