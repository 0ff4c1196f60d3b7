"""Composition root of the post service: `python -m services.post`."""

from chirp.post.v1 import post_service_pb2, post_service_pb2_grpc
from services.post.api import PostApi
from services.post.repository import PostRepository
from services.post.service import PostingRules, PostService
from services.runtime.bootstrap import id_generator
from services.runtime.command_service import run_command_service
from services.runtime.graph_client import GraphClient
from services.runtime.idempotency import IdempotentRequests
from services.runtime.topics import POST_EVENTS
from services.text import Profile


def wire(settings, session, publisher):
    keyspace = settings.keyspace("post")
    graph = GraphClient(settings.graph_addr)
    rules = PostingRules(Profile(settings.text_profile), settings.post_rate_limit, settings.post_rate_window_seconds)
    service = PostService(
        PostRepository(session, keyspace), graph, publisher, id_generator(settings), settings.topic(POST_EVENTS.name), rules
    )
    api = PostApi(service, IdempotentRequests(session, keyspace))
    return lambda server: post_service_pb2_grpc.add_PostServiceServicer_to_server(api, server), graph.close


if __name__ == "__main__":
    run_command_service(
        name="post",
        address_of=lambda settings: settings.post_addr,
        service_name=post_service_pb2.DESCRIPTOR.services_by_name["PostService"].full_name,
        wire=wire,
    )
