"""What a Chirp service is, declared once in its `wiring.py` (its gRPC API, and what it projects if it projects),
and how any service runs, in any of its roles:

- `api`: the gRPC API alone (command services, and the read side of a projected service);
- `worker`: the projection alone (gRPC health only, for probes);
- `all`: both in one process (the default where there is a projection; `make up` runs it this way).
"""

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
import structlog
from google.protobuf.descriptor import ServiceDescriptor
from prometheus_client import start_http_server

from chirp.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from services.runtime.access import Rule
from services.runtime.bootstrap import settings_and_logging
from services.runtime.cassandra import CassandraSession
from services.runtime.channels import aio_channel
from services.runtime.config import Settings
from services.runtime.credentials import CredentialVerifier
from services.runtime.grpc_server import Api, GrpcServer, serve
from services.runtime.kafka import EventPublisher
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.projection.versions import (
    REFRESH_SECONDS,
    ServingRepository,
    ensure_registry,
    keyspace_of,
    registry_of,
    wait_for_version,
)
from services.runtime.resources import SharedResource

log = structlog.get_logger(__name__)

Servicer = TypeVar("Servicer")
R = TypeVar("R")


class Resources:
    """What a service's wiring builds on, each made on first use inside the running event loop (a faust worker
    starts its loop late) and closed when the process stops: the service's Cassandra session, its event publisher,
    the repositories that serve reads, the verifier of credentials, and whatever the wiring hands to `on_close`."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self._service = service
        self._verifier: CredentialVerifier | None = None
        self._session: SharedResource[CassandraSession] = SharedResource(
            lambda: CassandraSession.connect(settings, settings.keyspace(service))
        )
        self._publisher: SharedResource[EventPublisher] = SharedResource(self._start_publisher)
        self._closers: list[Callable[[], Awaitable[None]]] = []

    async def session(self) -> CassandraSession:
        return await self._session.get()

    async def publisher(self) -> EventPublisher:
        return await self._publisher.get()

    def serving(self, projection: ProjectionSpec[R]) -> ServingRepository[R]:
        """The repository of the version of `projection` that serves reads, following rebuilds."""
        return ServingRepository(self.settings, projection.service, self._session, projection.repository)

    def verifier(self) -> CredentialVerifier:
        """Verifies the credentials of incoming calls with the identity service's public keys (GetSigningKeys)."""
        if self._verifier is None:
            identity = aio_channel(self.settings, self.settings.identity_addr)
            stub = identity_service_pb2_grpc.IdentityServiceStub(identity)

            async def fetch_keys() -> str:
                response = await stub.GetSigningKeys(identity_service_pb2.GetSigningKeysRequest(), timeout=5)
                return response.jwks

            self._verifier = CredentialVerifier(fetch_keys)
            self.on_close(identity.close)
        return self._verifier

    def use_verifier(self, verifier: CredentialVerifier) -> None:
        """For the identity service, which verifies with the keys it holds instead of asking itself."""
        self._verifier = verifier

    def on_close(self, close: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(close)

    async def close(self) -> None:
        for close in reversed(self._closers):
            await close()
        publisher = self._publisher.built()
        if publisher is not None:
            await publisher.stop()
        session = self._session.built()
        if session is not None:
            session.shutdown()

    async def _start_publisher(self) -> EventPublisher:
        publisher = EventPublisher(self.settings.kafka_bootstrap, client_id=f"chirp-{self._service}")
        await publisher.start()
        return publisher


@dataclass(frozen=True)
class ApiSpec(Generic[Servicer]):
    """A gRPC API: the protobuf service it implements, where clients reach it, how its servicer is built, and who
    may call each of its methods (services/runtime/access.py)."""

    service: ServiceDescriptor
    address: Callable[[Settings], str]
    add_to_server: Callable[[Servicer, grpc.aio.Server], None]
    build: Callable[[Resources], Awaitable[Servicer]]
    rules: Mapping[str, Rule]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    api: ApiSpec[Any]
    projection: ProjectionSpec[Any] | None = None

    @property
    def roles(self) -> list[str]:
        return ["all", "api", "worker"] if self.projection is not None else ["api"]


def main(spec: ServiceSpec) -> None:
    """`python -m services.<name> [--role ...]`: read the role and the settings, then run."""
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{spec.name}",
        description="all: project and serve the API; api: the API alone; worker: the projection alone",
    )
    parser.add_argument("--role", choices=spec.roles, default=spec.roles[0])
    role = parser.parse_args().role
    run(spec, role, settings_and_logging())


def run(spec: ServiceSpec, role: str, settings: Settings) -> None:
    resources = Resources(settings, spec.name)
    if role == "api":
        asyncio.run(_serve_api(spec, resources, settings.port_of(spec.api.address(settings))))
        return
    assert spec.projection is not None, f"{spec.name} projects nothing: it has no {role} role"
    # A worker serves health alone, on an address of its own (on one machine its API runs beside it).
    address = settings.worker_addr(spec.name) if role == "worker" else spec.api.address(settings)
    _run_worker(spec, spec.projection, role, resources, settings.port_of(address))


async def _serve_api(spec: ServiceSpec, resources: Resources, port: int) -> None:
    server = await _server(spec, resources, port, f"{spec.name}-api", serves_api=True)
    settings = resources.settings
    metrics_port = settings.metrics_port_beside(port)
    await serve(server, metrics_port=metrics_port, metrics_host=settings.bind_host, on_stop=resources.close)


async def _server(spec: ServiceSpec, resources: Resources, port: int, name: str, serves_api: bool) -> GrpcServer:
    """The process's gRPC server: the API (built now, inside the loop) or, for a worker, health alone."""
    apis = []
    if serves_api:
        servicer = await spec.api.build(resources)
        apis.append(Api(spec.api.service, lambda server: spec.api.add_to_server(servicer, server), spec.api.rules))
    return GrpcServer(
        name=name, port=port, apis=apis, settings=resources.settings, verifier=resources.verifier() if apis else None
    )


def _run_worker(spec: ServiceSpec, projection: ProjectionSpec[Any], role: str, resources: Resources, port: int) -> None:
    """A faust worker applying the projection; with role `all` it also serves the API. A versioned projection is
    written in the version that served when the worker started. When the registry changes (a handover begins), the
    worker stops gracefully, leaving its consumer group with what it wrote committed, and starts again: it waits
    for the handover to end, then writes the version that serves."""
    import faust
    import mode

    from services.runtime.projection.consumer import consuming_app
    from services.runtime.projection.lag import LAG_SECONDS, GroupLag

    settings = resources.settings
    written = _serving_version(settings, projection) if projection.versioned else 1

    async def build_projection():
        session = await resources.session()
        keyspace = keyspace_of(settings, projection.service, written)
        repository = projection.repository(session, keyspace, settings.keyspace(projection.service))
        built = projection.projection(repository, session, settings)
        close = getattr(built, "close", None)
        if close is not None:  # a projection holding resources of its own (a producer)
            resources.on_close(close)
        return built

    group, topics = settings.consumer_group(projection.group_name), projection.topic_names(settings)
    app = consuming_app(
        settings=settings, name=spec.name, group=group, topics=topics, projection=SharedResource(build_projection)
    )
    lag = GroupLag(settings, group, topics)
    resources.on_close(lag.close)

    @app.timer(LAG_SECONDS)
    async def measure_lag() -> None:
        try:
            await lag.measure()
        except Exception as error:  # as for the version check: a failing timer would stop the worker
            log.warning("projection.lag_unmeasured", projection=spec.name, error=repr(error))

    restart = False
    if projection.versioned:

        @app.timer(REFRESH_SECONDS)
        async def restart_when_the_registry_changes() -> None:
            nonlocal restart
            try:
                registry = await registry_of(await resources.session(), settings, projection.service)
            except Exception as error:
                # An exception would stop faust's timer, and with it the worker: during an outage, ask again later.
                log.warning("projection.version_check_failed", projection=spec.name, error=repr(error))
                return
            if (registry.version, registry.handover_to) != (written, None) and not restart:
                log.info("projection.version_changed", projection=spec.name, was=written, now=registry)
                restart = True
                # The worker's own graceful stop: commit what was written, leave the group (so a handover need not
                # wait for Kafka's session timeout), close resources.
                os.kill(os.getpid(), signal.SIGTERM)

    @app.service
    class Lifecycle(mode.Service):
        """Serves gRPC (the API, or health alone for a worker) while the worker runs; closes resources at stop."""

        server: GrpcServer | None = None

        async def on_start(self) -> None:
            self.server = await _server(spec, resources, port, f"{spec.name}-{role}", serves_api=role == "all")
            await self.server.start()

        async def on_stop(self) -> None:
            if self.server is not None:
                await self.server.stop()
            await resources.close()

    if metrics_port := settings.metrics_port_beside(port):
        start_http_server(metrics_port, addr=settings.bind_host)
    worker = faust.Worker(app, loglevel="info", quiet=True, override_logging=False, redirect_stdouts=False)
    # faust's terminal spinner writes cursor escape codes to stdout at start and stop, into the JSON log.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit:
        if restart:
            os.execv(sys.executable, sys.orig_argv)
        raise


def _serving_version(settings: Settings, projection: ProjectionSpec[Any]) -> int:
    """The serving version once no handover runs, creating the registry if missing so that no later read of it
    fails. Read before the worker starts, on a loop of its own: asyncio.run would leave the thread without the loop
    faust and grpc.aio use."""

    def waiting(to: int) -> None:
        log.info("projection.waiting_for_handover", projection=projection.service, to=to)

    async def read() -> int:
        session = await CassandraSession.connect(settings, settings.keyspace(projection.service))
        try:
            await ensure_registry(session, settings, projection.service)
            return await wait_for_version(session, settings, projection.service, waiting)
        finally:
            session.shutdown()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(read())
    finally:
        loop.close()
