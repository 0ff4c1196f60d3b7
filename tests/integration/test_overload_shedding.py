"""A gRPC server past its in-flight limit refuses at once, UNAVAILABLE with a retry hint, and keeps answering the
calls it took: on a real grpc.aio server and channel, with a servicer that holds each call for a while."""

import asyncio

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from chirp.trends.v1 import trends_service_pb2 as pb
from chirp.trends.v1 import trends_service_pb2_grpc
from services.cli.launcher import free_port
from services.runtime.access import public
from services.runtime.config import Settings
from services.runtime.errors import error_reason
from services.runtime.grpc_server import RETRY_AFTER_SECONDS, Api, GrpcServer

LIMIT = 4
HELD_SECONDS = 0.3


class SlowTrends(trends_service_pb2_grpc.TrendsServiceServicer):
    async def ListTrends(self, request, context):
        await asyncio.sleep(HELD_SECONDS)
        return pb.ListTrendsResponse()


def retry_delay(error: grpc.aio.AioRpcError) -> float | None:
    for detail in rpc_status.from_call(error).details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


async def test_calls_beyond_the_limit_are_refused_at_once_and_the_rest_are_answered():
    port = free_port()
    service = pb.DESCRIPTOR.services_by_name["TrendsService"]
    api = Api(
        service,
        lambda server: trends_service_pb2_grpc.add_TrendsServiceServicer_to_server(SlowTrends(), server),
        {method.name: public() for method in service.methods},
    )
    server = GrpcServer(
        name="trends", port=port, apis=[api], settings=Settings(grpc_max_in_flight=LIMIT), verifier=None
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = trends_service_pb2_grpc.TrendsServiceStub(channel)
            await channel.channel_ready()
            loop = asyncio.get_running_loop()

            async def call():
                started = loop.time()
                try:
                    await stub.ListTrends(pb.ListTrendsRequest(), timeout=10)
                    return "ok", loop.time() - started, None
                except grpc.aio.AioRpcError as error:
                    return error.code(), loop.time() - started, error

            first = await asyncio.gather(*(call() for _ in range(3 * LIMIT)))
            answered = [r for r in first if r[0] == "ok"]
            refused = [r for r in first if r[0] != "ok"]
            assert len(answered) == LIMIT
            assert {code for code, _, _ in refused} == {grpc.StatusCode.UNAVAILABLE}
            assert all(seconds < HELD_SECONDS for _, seconds, _ in refused)  # refused at once, not queued
            assert {error_reason(error) for _, _, error in refused} == {"OVERLOADED"}
            assert {retry_delay(error) for _, _, error in refused} == {RETRY_AFTER_SECONDS}
            # The places are given back: the next wave is served the same way.
            again = await asyncio.gather(*(call() for _ in range(LIMIT)))
            assert [code for code, _, _ in again] == ["ok"] * LIMIT
    finally:
        await server.stop()
