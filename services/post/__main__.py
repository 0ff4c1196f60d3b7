"""Composition root of the post service: `python -m services.post`."""

from chirp.post.v1 import post_service_pb2, post_service_pb2_grpc
from services.post.api import PostApi
from services.runtime.graph_client import GraphClient
from services.post.repository import PostRepository
from services.post.service import PostService
from services.runtime.bootstrap import id_generator
from services.runtime.command_service import run_command_service
from services.runtime.topics import POST_EVENTS


def wire(settings, session, publisher):
    graph = GraphClient(settings.graph_addr)
    repo = PostRepository(session, settings.keyspace("post"))
    service = PostService(repo, graph, publisher, id_generator(settings), settings.topic(POST_EVENTS.name))
    return lambda server: post_service_pb2_grpc.add_PostServiceServicer_to_server(PostApi(service), server), graph.close


if __name__ == "__main__":
    run_command_service(
        name="post",
        address_of=lambda settings: settings.post_addr,
        service_name=post_service_pb2.DESCRIPTOR.services_by_name["PostService"].full_name,
        wire=wire,
    )
