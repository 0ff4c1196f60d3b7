"""Running a command-side service (graph, post): a Cassandra session, an event publisher and a gRPC API."""

import asyncio
from collections.abc import Awaitable, Callable

import grpc

from services.runtime.bootstrap import settings_and_logging
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.grpc_server import serve
from services.runtime.kafka import EventPublisher

# Given the settings, the keyspace's session and a started publisher: register the API on a server,
# and return what must be closed at shutdown (beyond the session and publisher).
Wiring = Callable[[Settings, CassandraSession, EventPublisher], tuple[Callable[[grpc.aio.Server], None], Callable[[], Awaitable[None]] | None]]


def run_command_service(*, name: str, address_of: Callable[[Settings], str], service_name: str, wire: Wiring) -> None:
    async def main() -> None:
        settings = settings_and_logging()
        session = await CassandraSession.connect(settings, settings.keyspace(name))
        publisher = EventPublisher(settings.kafka_bootstrap, client_id=f"chirp-{name}")
        await publisher.start()
        register, close_extra = wire(settings, session, publisher)

        async def stop() -> None:
            await publisher.stop()
            if close_extra is not None:
                await close_extra()
            session.shutdown()

        await serve(
            name=name,
            port=settings.port_of(address_of(settings)),
            metrics_port=settings.metrics_port,
            register=[register],
            service_names=[service_name],
            on_stop=stop,
        )

    asyncio.run(main())
