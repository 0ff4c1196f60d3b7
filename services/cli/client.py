"""gRPC clients of Chirp's services, as the CLI (and the tests) use them: every call carries the credential of the
account the CLI acts as (services/cli/credentials.py)."""

from functools import cached_property

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chirp.graph.v1 import graph_service_pb2_grpc
from chirp.identity.v1 import identity_service_pb2_grpc
from chirp.notification.v1 import notification_service_pb2_grpc
from chirp.post.v1 import post_service_pb2_grpc
from chirp.search.v1 import search_service_pb2_grpc
from chirp.timeline.v1 import timeline_service_pb2_grpc
from chirp.trends.v1 import trends_service_pb2_grpc
from services.cli.credentials import BearerInterceptor, Credentials
from services.runtime.channels import channel
from services.runtime.config import Settings

TIMEOUT = 10


class Clients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._plain: dict[str, grpc.Channel] = {}
        self._channels: dict[str, grpc.Channel] = {}
        self.credentials = Credentials(settings, self._plain_channel(settings.identity_addr))

    def _plain_channel(self, address: str) -> grpc.Channel:
        if address not in self._plain:
            self._plain[address] = channel(self.settings, address)
        return self._plain[address]

    def channel(self, address: str) -> grpc.Channel:
        """A channel whose calls carry the credential."""
        if address not in self._channels:
            self._channels[address] = channel(self.settings, address, BearerInterceptor(self.credentials.bearer))
        return self._channels[address]

    def act_as(self, user_id: int) -> None:
        """The account the following calls act for."""
        self.credentials.act_as(user_id)

    @cached_property
    def identity(self) -> identity_service_pb2_grpc.IdentityServiceStub:
        # Its calls carry their own proof (a password, a session): no credential.
        return identity_service_pb2_grpc.IdentityServiceStub(self._plain_channel(self.settings.identity_addr))

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

    @cached_property
    def search(self) -> search_service_pb2_grpc.SearchServiceStub:
        return search_service_pb2_grpc.SearchServiceStub(self.channel(self.settings.search_addr))

    @cached_property
    def trends(self) -> trends_service_pb2_grpc.TrendsServiceStub:
        return trends_service_pb2_grpc.TrendsServiceStub(self.channel(self.settings.trends_addr))

    def health(self, address: str) -> str:
        """SERVING, NOT_SERVING, or why the check failed."""
        try:
            stub = health_pb2_grpc.HealthStub(self._plain_channel(address))
            response = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        except grpc.RpcError as error:
            return f"unreachable ({error.code().name})"

    def close(self) -> None:
        for each in (*self._channels.values(), *self._plain.values()):
            each.close()
