"""Composition root of the graph service: `python -m services.graph`."""

import asyncio

from chirp.graph.v1 import graph_service_pb2, graph_service_pb2_grpc
from services.graph.api import GraphApi
from services.graph.repository import GraphRepository
from services.graph.service import GraphService
from services.runtime.bootstrap import id_generator, settings_and_logging
from services.runtime.cassandra import CassandraSession
from services.runtime.grpc_server import serve
from services.runtime.kafka import EventPublisher
from services.runtime.topics import GRAPH_EVENTS


async def main() -> None:
    settings = settings_and_logging()
    keyspace = settings.keyspace("graph")
    session = await CassandraSession.connect(settings, keyspace)
    publisher = EventPublisher(settings.kafka_bootstrap, client_id="chirp-graph")
    await publisher.start()
    service = GraphService(GraphRepository(session, keyspace), publisher, id_generator(settings), settings.topic(GRAPH_EVENTS.name))

    async def stop() -> None:
        await publisher.stop()
        session.shutdown()

    await serve(
        name="graph",
        port=settings.port_of(settings.graph_addr),
        metrics_port=settings.metrics_port,
        register=[lambda server: graph_service_pb2_grpc.add_GraphServiceServicer_to_server(GraphApi(service), server)],
        service_names=[graph_service_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name],
        on_stop=stop,
    )


if __name__ == "__main__":
    asyncio.run(main())
