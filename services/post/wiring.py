"""The post service, declared once: its gRPC API over its tables, the graph service it asks, the topic it writes."""

from chirp.post.v1 import post_service_pb2, post_service_pb2_grpc
from services.graph.client import GraphClient
from services.post.api import ACCESS, PostApi
from services.post.domain import PostingRules
from services.post.repository import PostRepository
from services.post.service import PostService
from services.runtime.bootstrap import id_generator
from services.runtime.idempotency import IdempotentRequests
from services.runtime.service import ApiSpec, Resources, ServiceSpec
from services.runtime.topics import POST_EVENTS
from services.text import Profile


async def _api(resources: Resources) -> PostApi:
    settings = resources.settings
    session = await resources.session()
    keyspace = settings.keyspace("post")
    graph = GraphClient(settings.graph_addr)
    resources.on_close(graph.close)
    rules = PostingRules(Profile(settings.text_profile), settings.post_rate_limit, settings.post_rate_window_seconds)
    service = PostService(
        PostRepository(session, keyspace),
        graph,
        await resources.publisher(),
        id_generator(settings),
        settings.topic(POST_EVENTS.name),
        rules,
    )
    return PostApi(service, IdempotentRequests(session, keyspace))


SERVICE = ServiceSpec(
    name="post",
    api=ApiSpec(
        service=post_service_pb2.DESCRIPTOR.services_by_name["PostService"],
        address=lambda settings: settings.post_addr,
        add_to_server=post_service_pb2_grpc.add_PostServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
)
