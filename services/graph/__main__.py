"""Composition root of the graph service: `python -m services.graph`.

One process serves the gRPC API and keeps the post-count projection of the post topic (services/graph/post_counts.py).
"""

import asyncio
import contextlib

from chirp.graph.v1 import graph_service_pb2, graph_service_pb2_grpc
from services.graph.api import GraphApi
from services.graph.post_counts import PostCountProjection, run_post_counts
from services.graph.repository import GraphRepository
from services.graph.service import GraphService
from services.runtime.bootstrap import id_generator
from services.runtime.command_service import run_command_service
from services.runtime.idempotency import IdempotentRequests
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.text import Profile


def wire(settings, session, publisher):
    keyspace = settings.keyspace("graph")
    repo = GraphRepository(session, keyspace)
    service = GraphService(
        repo, publisher, id_generator(settings), settings.topic(GRAPH_EVENTS.name), Profile(settings.text_profile)
    )
    api = GraphApi(service, IdempotentRequests(session, keyspace))
    post_topic = settings.topic(POST_EVENTS.name)
    post_counts = asyncio.create_task(run_post_counts(settings, post_topic, PostCountProjection(repo, post_topic)))

    async def stop_post_counts() -> None:
        post_counts.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await post_counts

    return lambda server: graph_service_pb2_grpc.add_GraphServiceServicer_to_server(api, server), stop_post_counts


if __name__ == "__main__":
    run_command_service(
        name="graph",
        address_of=lambda settings: settings.graph_addr,
        service_name=graph_service_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name,
        wire=wire,
    )
