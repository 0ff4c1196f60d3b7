"""Composition root of the post service: `python -m services.post`."""

import asyncio

from chirp.post.v1 import post_service_pb2, post_service_pb2_grpc
from services.post.api import PostApi
from services.post.graph_client import GraphClient
from services.post.repository import PostRepository
from services.post.service import PostService
from services.runtime.bootstrap import id_generator, settings_and_logging
from services.runtime.cassandra import CassandraSession
from services.runtime.grpc_server import serve
from services.runtime.kafka import EventPublisher
from services.runtime.topics import POST_EVENTS


async def main() -> None:
    settings = settings_and_logging()
    keyspace = settings.keyspace("post")
    session = await CassandraSession.connect(settings, keyspace)
    publisher = EventPublisher(settings.kafka_bootstrap, client_id="chirp-post")
    await publisher.start()
    graph = GraphClient(settings.graph_addr)
    service = PostService(
        PostRepository(session, keyspace), graph, publisher, id_generator(settings), settings.topic(POST_EVENTS.name)
    )

    async def stop() -> None:
        await publisher.stop()
        await graph.close()
        session.shutdown()

    await serve(
        name="post",
        port=settings.port_of(settings.post_addr),
        metrics_port=settings.metrics_port,
        register=[lambda server: post_service_pb2_grpc.add_PostServiceServicer_to_server(PostApi(service), server)],
        service_names=[post_service_pb2.DESCRIPTOR.services_by_name["PostService"].full_name],
        on_stop=stop,
    )


if __name__ == "__main__":
    asyncio.run(main())
