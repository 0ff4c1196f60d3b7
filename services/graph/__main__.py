"""Composition root of the graph service: `python -m services.graph`."""

from chirp.graph.v1 import graph_service_pb2, graph_service_pb2_grpc
from services.graph.api import GraphApi
from services.graph.repository import GraphRepository
from services.graph.service import GraphService
from services.runtime.bootstrap import id_generator
from services.runtime.command_service import run_command_service
from services.runtime.topics import GRAPH_EVENTS


def wire(settings, session, publisher):
    repo = GraphRepository(session, settings.keyspace("graph"))
    service = GraphService(repo, publisher, id_generator(settings), settings.topic(GRAPH_EVENTS.name))
    return lambda server: graph_service_pb2_grpc.add_GraphServiceServicer_to_server(GraphApi(service), server), None


if __name__ == "__main__":
    run_command_service(
        name="graph",
        address_of=lambda settings: settings.graph_addr,
        service_name=graph_service_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name,
        wire=wire,
    )
