"""One way to run a gRPC API: who may call what, error mapping, health, reflection, metrics and graceful shutdown.

Every call of a served API passes one gate (`_Gate`) before its handler runs, unary and streaming alike:
- a request that does not parse as its message (corrupt bytes, invalid UTF-8) is INVALID_ARGUMENT, not UNKNOWN;
- the method's access rule is checked against the call's credential (services/runtime/access.py);
- a ChirpError becomes its status (AIP-193), an outage of a dependency UNAVAILABLE, anything else INTERNAL (a bug,
  logged; the caller learns nothing of the internals);
- a unary call beyond the process's in-flight limit is refused before any work, UNAVAILABLE with a RetryInfo hint,
  and one whose caller's deadline has already passed is not started (DEADLINE_EXCEEDED). Under overload a process
  then answers at its capacity: before, every call queued and most ran into their deadlines, so goodput fell to
  half. (gRPC's own `maximum_concurrent_rpcs` counts streams too, which live for hours, and answers
  RESOURCE_EXHAUSTED, which means a quota, without a hint.)
"""

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter, Histogram, start_http_server

from services.runtime.access import Rule, authorize, credential_of, current_caller, missing_rules
from services.runtime.config import Settings
from services.runtime.credentials import CredentialVerifier
from services.runtime.errors import ChirpError, DeadlineExpired, InvalidArgument, Unavailable
from services.runtime.outages import INFRASTRUCTURE_ERRORS

log = structlog.get_logger(__name__)

RPC_LATENCY = Histogram(
    "chirp_grpc_server_handling_seconds", "Time to answer an RPC (a stream: until it ends).", ["method"]
)
RPC_ERRORS = Counter("chirp_grpc_server_errors_total", "RPCs answered with an error.", ["method", "code"])
RPC_STREAM_MESSAGES = Counter(
    "chirp_grpc_server_stream_messages_total", "Messages sent on server streams (StreamNotifications).", ["method"]
)
RPC_SHED = Counter(
    "chirp_grpc_server_shed_total",
    "Unary calls refused before any work: the process was at its in-flight limit (overloaded), or the caller's"
    " deadline had passed (expired).",
    ["method", "why"],
)

# When a refused call is worth trying again: a few calls' time, long enough for the process to catch up.
RETRY_AFTER_SECONDS = 0.1

# Seconds in-flight calls get to finish after SIGTERM; Kubernetes' default grace period is 30 s.
SHUTDOWN_GRACE_SECONDS = 20
# What of a malformed request's parse error reaches the caller.
MAX_PARSE_ERROR = 200

Registration = Callable[[grpc.aio.Server], None]


@dataclass(frozen=True)
class Api:
    """A protobuf service a server serves: its descriptor, how its servicer is added, who may call each method."""

    service: ServiceDescriptor
    register: Registration
    # Method name (e.g. "CreatePost") -> its rule; every method of the service must have one.
    rules: Mapping[str, Rule]


class _Malformed:
    """What a request that does not parse is handed to the gate as, instead of failing inside gRPC (UNKNOWN)."""

    def __init__(self, message_name: str, error: Exception) -> None:
        self.message_name = message_name
        self.error = error


def _lenient(deserialize, message_name: str):
    def parse(data: bytes):
        try:
            return deserialize(data)
        except Exception as error:
            return _Malformed(message_name, error)

    return parse


class _Gate(grpc.aio.ServerInterceptor):
    def __init__(self, rules: Mapping[str, Rule], verifier: CredentialVerifier | None, max_in_flight: int) -> None:
        # Full method path ("/chirp.post.v1.PostService/CreatePost") -> rule. Health and reflection have none.
        self._rules = rules
        self._verifier = verifier
        self._max_in_flight = max_in_flight
        self._in_flight = 0

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rule = self._rules.get(method)
        if rule is None:  # health and reflection: open to probes and tools
            return handler
        message_name = method.rsplit("/", 1)[-1] + "Request"
        deserializer = _lenient(handler.request_deserializer, message_name)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, rule, handler.unary_unary),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, rule, handler.unary_stream),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _admit(self, rule: Rule, request, context) -> None:
        if isinstance(request, _Malformed):
            raise InvalidArgument(
                "REQUEST_MALFORMED",
                f"the request is not a valid {request.message_name}: {str(request.error)[:MAX_PARSE_ERROR]}",
            )
        caller = await authorize(rule, credential_of(context.invocation_metadata()), request, self._verifier)
        current_caller.set(caller)

    def _unary(self, method: str, rule: Rule, inner):
        async def unary_unary(request, context: grpc.aio.ServicerContext):
            with RPC_LATENCY.labels(method).time():
                try:
                    self._shed(method, context)
                    self._in_flight += 1
                    try:
                        await self._admit(rule, request, context)
                        return await inner(request, context)
                    finally:
                        self._in_flight -= 1
                except Exception as error:
                    await _abort(method, context, error)

        return unary_unary

    def _shed(self, method: str, context: grpc.aio.ServicerContext) -> None:
        """Refuse, before any work, a call the process cannot take now or whose caller no longer waits."""
        if self._max_in_flight and self._in_flight >= self._max_in_flight:
            RPC_SHED.labels(method, "overloaded").inc()
            raise Unavailable(
                "OVERLOADED",
                f"this server is working on {self._in_flight} calls, as many as it takes at once; nothing was "
                f"changed, try again in {RETRY_AFTER_SECONDS:g} s",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            RPC_SHED.labels(method, "expired").inc()
            raise DeadlineExpired(
                "DEADLINE_PASSED", "the call's deadline passed before it was started; nothing was done"
            )

    def _stream(self, method: str, rule: Rule, inner):
        async def unary_stream(request, context: grpc.aio.ServicerContext):
            started = time.monotonic()
            try:
                await self._admit(rule, request, context)
                sent = RPC_STREAM_MESSAGES.labels(method)
                async for item in inner(request, context):
                    yield item
                    sent.inc()
            except Exception as error:
                await _abort(method, context, error)
            finally:
                RPC_LATENCY.labels(method).observe(time.monotonic() - started)

        return unary_stream


async def _abort(method: str, context: grpc.aio.ServicerContext, error: Exception) -> None:
    """End the call with the status the error stands for (context.abort raises, which ends the handler)."""
    if isinstance(error, ChirpError):
        RPC_ERRORS.labels(method, error.code.name).inc()
        await context.abort_with_status(error.to_status())
    if isinstance(error, INFRASTRUCTURE_ERRORS):
        # Retryable: the caller should back off and try again, as for any UNAVAILABLE.
        RPC_ERRORS.labels(method, "UNAVAILABLE").inc()
        log.warning("rpc.dependency_unavailable", method=method, error=repr(error))
        await context.abort(
            grpc.StatusCode.UNAVAILABLE, "a service this call needs is not answering; nothing was changed, try again"
        )
    if isinstance(error, grpc.aio.AioRpcError) and error.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ):
        RPC_ERRORS.labels(method, "UNAVAILABLE").inc()
        await context.abort(
            grpc.StatusCode.UNAVAILABLE, f"a service this call needs is not answering: {error.details()}"
        )
    if context.code() is not None or isinstance(error, asyncio.CancelledError):  # aborted by the handler, or gone
        raise error
    RPC_ERRORS.labels(method, "INTERNAL").inc()
    log.error("rpc.failed", method=method, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")


class GrpcServer:
    """A grpc.aio server with the gate, the standard health service and reflection, on the configured address."""

    def __init__(
        self, *, name: str, port: int, apis: Sequence[Api], settings: Settings, verifier: CredentialVerifier | None
    ) -> None:
        self.name = name
        self.port = port
        rules: dict[str, Rule] = {}
        for api in apis:
            methods = [method.name for method in api.service.methods]
            missing = missing_rules(api.rules, methods)
            if missing:
                raise ValueError(f"{api.service.full_name} has no access rule for {', '.join(missing)}")
            rules |= {f"/{api.service.full_name}/{method}": api.rules[method] for method in methods}
        # No SO_REUSEPORT (gRPC's default on Linux): a second server on a taken port must fail at start, not
        # quietly take half of the other's calls.
        self._server = grpc.aio.server(
            interceptors=[_Gate(rules, verifier, settings.grpc_max_in_flight)], options=[("grpc.so_reuseport", 0)]
        )
        for api in apis:
            api.register(self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._names = [api.service.full_name for api in apis]
        reflection.enable_server_reflection([*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server)
        address = f"{settings.bind_host}:{port}"
        if settings.grpc_tls_cert_file:
            credentials = grpc.ssl_server_credentials(
                [(Path(settings.grpc_tls_key_file).read_bytes(), Path(settings.grpc_tls_cert_file).read_bytes())]
            )
            self._server.add_secure_port(address, credentials)
        else:
            self._server.add_insecure_port(address)

    async def start(self) -> None:
        await self._server.start()
        for service in ["", *self._names]:
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info("server.started", service=self.name, port=self.port)

    async def stop(self) -> None:
        """Report NOT_SERVING so load balancers move away, then let in-flight calls finish."""
        log.info("server.stopping", service=self.name)
        await self._health.enter_graceful_shutdown()
        await self._server.stop(SHUTDOWN_GRACE_SECONDS)


async def serve(
    server: GrpcServer,
    *,
    metrics_port: int = 0,
    metrics_host: str = "127.0.0.1",
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully and run `on_stop`. The metrics endpoint listens where
    the gRPC server does (CHIRP_BIND_HOST), not on every interface."""
    if metrics_port:
        start_http_server(metrics_port, addr=metrics_host)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    if on_stop is not None:
        await on_stop()
    log.info("server.stopped", service=server.name)
