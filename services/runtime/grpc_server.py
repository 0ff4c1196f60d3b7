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


async def serve(
    *,
    name: str,
    port: int,
    register: Iterable[Registration],
    service_names: Iterable[str],
    metrics_port: int = 0,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    background: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then report NOT_SERVING, finish in-flight calls and run `on_stop`.

    `background`, when given, runs beside the server (a consumer loop, say); if it ends, the process stops too.
    """
    server = grpc.aio.server(interceptors=[_ErrorsAndMetrics()])
    for add in register:
        add(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    server.add_insecure_port(f"[::]:{port}")
    if metrics_port:
        start_http_server(metrics_port)
    await server.start()
    for service in ["", *names]:
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("server.started", service=name, port=port, metrics_port=metrics_port or None)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiters = [asyncio.create_task(stop.wait())]
    if background is not None:
        waiters.append(asyncio.create_task(background()))
    done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)

    log.info("server.stopping", service=name)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(SHUTDOWN_GRACE_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if on_stop is not None:
        await on_stop()
    for task in done:
        task.result()  # a background loop that failed makes the process exit non-zero
    log.info("server.stopped", service=name)
