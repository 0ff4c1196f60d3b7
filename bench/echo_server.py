"""B2's server: a grpc.aio service that answers every request with a fixed-size payload and does nothing else.

`python -m bench.echo_server PORT RESPONSE_BYTES`. Its own process, like the post service, so that client and
server do not share one interpreter's lock.
"""

import asyncio
import sys

import grpc

METHOD = "/bench.Echo/Call"


async def serve(port: int, response_bytes: int) -> None:
    payload = b"x" * response_bytes

    async def call(request: bytes, context) -> bytes:
        return payload

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo",
        {"Call": grpc.unary_unary_rpc_method_handler(call)},  # bytes in, bytes out: no (de)serializer
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
