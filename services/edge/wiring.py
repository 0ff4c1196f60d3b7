"""The edge, declared once: the services it reaches (generated stubs over services.runtime.channels) and what it
keeps in memory (the token answers and the rate-limit windows). It holds no secret and no database."""

import contextlib

from starlette.applications import Starlette

from chirp.graph.v1.graph_service_pb2_grpc import GraphServiceStub
from chirp.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from chirp.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from chirp.post.v1.post_service_pb2_grpc import PostServiceStub
from chirp.search.v1.search_service_pb2_grpc import SearchServiceStub
from chirp.timeline.v1.timeline_service_pb2_grpc import TimelineServiceStub
from chirp.trends.v1.trends_service_pb2_grpc import TrendsServiceStub
from services.edge import app
from services.edge.auth import TokenCache
from services.edge.calls import Backends
from services.edge.ratelimit import RateLimits
from services.runtime.channels import aio_channel
from services.runtime.config import Settings


def application(settings: Settings) -> Starlette:
    """The ASGI app; its channels open when the server starts (inside its event loop) and close when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(started: Starlette):
        channels = {
            name: aio_channel(settings, getattr(settings, f"{name}_addr"))
            for name in ("identity", "graph", "post", "timeline", "notification", "search", "trends")
        }
        identity = IdentityServiceStub(channels["identity"])
        started.state.backends = Backends(
            settings=settings,
            identity=identity,
            graph=GraphServiceStub(channels["graph"]),
            post=PostServiceStub(channels["post"]),
            timeline=TimelineServiceStub(channels["timeline"]),
            notification=NotificationServiceStub(channels["notification"]),
            search=SearchServiceStub(channels["search"]),
            trends=TrendsServiceStub(channels["trends"]),
            tokens=TokenCache(identity, settings.edge_token_cache_seconds),
            limits=RateLimits(
                settings.edge_rate_limit_account, settings.edge_rate_limit_address, settings.edge_rate_window_seconds
            ),
        )
        try:
            yield
        finally:
            for channel in channels.values():
                await channel.close()

    return app.build(lifespan)
