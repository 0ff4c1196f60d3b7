"""One way to run a gRPC API: health, reflection, error mapping, metrics and graceful shutdown on SIGTERM."""

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterable

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter, Histogram, start_http_server

from services.runtime.errors import ChirpError
from services.runtime.outages import INFRASTRUCTURE_ERRORS

log = structlog.get_logger(__name__)

RPC_LATENCY = Histogram("chirp_grpc_server_handling_seconds", "Time to answer an RPC.", ["method"])
RPC_ERRORS = Counter("chirp_grpc_server_errors_total", "RPCs answered with an error.", ["method", "code"])

# Seconds in-flight calls get to finish after SIGTERM; Kubernetes' default grace period is 30 s.
SHUTDOWN_GRACE_SECONDS = 20


class _ErrorsAndMetrics(grpc.aio.ServerInterceptor):
    """Turn ChirpError into its status, any other exception into INTERNAL, and time every call."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        inner = handler.unary_unary

        async def unary_unary(request, context: grpc.aio.ServicerContext):
            with RPC_LATENCY.labels(method).time():
                try:
                    return await inner(request, context)
                except ChirpError as error:
                    RPC_ERRORS.labels(method, error.code.name).inc()
                    await context.abort_with_status(error.to_status())
                except asyncio.CancelledError:
                    raise
                except INFRASTRUCTURE_ERRORS as error:
                    # Retryable: the caller should back off and try again, as for any UNAVAILABLE.
                    RPC_ERRORS.labels(method, "UNAVAILABLE").inc()
                    log.warning("rpc.dependency_unavailable", method=method, error=repr(error))
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE,
                        "a service this call needs is not answering; nothing was changed, try again",
                    )
                except grpc.aio.AioRpcError as error:
                    if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise
                    RPC_ERRORS.labels(method, "UNAVAILABLE").inc()
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE, f"a service this call needs is not answering: {error.details()}"
                    )
                except Exception:
                    if context.code() is not None:  # already aborted by the handler
                        raise
                    RPC_ERRORS.labels(method, "INTERNAL").inc()
                    log.exception("rpc.failed", method=method)
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


Registration = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """A grpc.aio server with the standard health service, reflection, error mapping and metrics."""

    def __init__(self, *, name: str, port: int, register: Iterable[Registration], service_names: Iterable[str]) -> None:
        self.name = name
        self.port = port
        # No SO_REUSEPORT (gRPC's default on Linux): a second server on a taken port must fail at start, not
        # quietly take half of the other's calls.
        self._server = grpc.aio.server(interceptors=[_ErrorsAndMetrics()], options=[("grpc.so_reuseport", 0)])
        for add in register:
            add(self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._names = list(service_names)
        reflection.enable_server_reflection([*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server)
        self._server.add_insecure_port(f"[::]:{port}")

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
    *,
    name: str,
    port: int,
    register: Iterable[Registration],
    service_names: Iterable[str],
    metrics_port: int = 0,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully and run `on_stop`."""
    server = GrpcServer(name=name, port=port, register=register, service_names=service_names)
    if metrics_port:
        start_http_server(metrics_port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    if on_stop is not None:
        await on_stop()
    log.info("server.stopped", service=name)
