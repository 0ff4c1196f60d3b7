"""gRPC clients of the four services, as the CLI uses them."""

from functools import cached_property

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chirp.graph.v1 import graph_service_pb2_grpc
from chirp.notification.v1 import notification_service_pb2_grpc
from chirp.post.v1 import post_service_pb2_grpc
from chirp.timeline.v1 import timeline_service_pb2_grpc
from services.runtime.config import Settings

TIMEOUT = 10


class Clients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._channels: dict[str, grpc.Channel] = {}

    def channel(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.insecure_channel(address)
        return self._channels[address]

    @cached_property
    def graph(self) -> graph_service_pb2_grpc.GraphServiceStub:
        return graph_service_pb2_grpc.GraphServiceStub(self.channel(self.settings.graph_addr))

    @cached_property
    def post(self) -> post_service_pb2_grpc.PostServiceStub:
        return post_service_pb2_grpc.PostServiceStub(self.channel(self.settings.post_addr))

    @cached_property
    def timeline(self) -> timeline_service_pb2_grpc.TimelineServiceStub:
        return timeline_service_pb2_grpc.TimelineServiceStub(self.channel(self.settings.timeline_addr))

    @cached_property
    def notification(self) -> notification_service_pb2_grpc.NotificationServiceStub:
        return notification_service_pb2_grpc.NotificationServiceStub(self.channel(self.settings.notification_addr))

    def health(self, address: str) -> str:
        """SERVING, NOT_SERVING, or why the check failed."""
        try:
            stub = health_pb2_grpc.HealthStub(self.channel(address))
            response = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        except grpc.RpcError as error:
            return f"unreachable ({error.code().name})"

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
