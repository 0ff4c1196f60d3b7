"""What other services ask the graph service: does a user exist, who do these handles name."""

import asyncio

import grpc

from chirp.graph.v1 import graph_service_pb2 as pb
from chirp.graph.v1 import graph_service_pb2_grpc


class GraphClient:
    def __init__(self, address: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = graph_service_pb2_grpc.GraphServiceStub(self._channel)
        # Accounts are never deleted and handles never change, so what was found once stays true: skip the call.
        self._known_users: set[int] = set()
        self._known_handles: dict[str, int] = {}

    async def user_exists(self, user_id: int) -> bool:
        if user_id in self._known_users:
            return True
        try:
            await self._stub.GetUser(pb.GetUserRequest(user_id=user_id), timeout=5)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        if len(self._known_users) > 1_000_000:
            self._known_users.clear()
        self._known_users.add(user_id)
        return True

    async def resolve_handles(self, handles: list[str]) -> dict[str, int]:
        """Lower-cased handle -> user id, for the handles that name an existing user (other strings are left out)."""

        async def resolve(handle: str) -> tuple[str, int | None]:
            if handle.lower() in self._known_handles:
                return handle.lower(), self._known_handles[handle.lower()]
            try:
                response = await self._stub.ResolveHandle(pb.ResolveHandleRequest(handle=handle), timeout=5)
                return handle.lower(), response.user.user_id
            except grpc.aio.AioRpcError as error:
                # INVALID_ARGUMENT: not a handle anyone can have (a mention of 16 to 20 characters, say).
                if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    return handle.lower(), None
                raise

        found = dict(await asyncio.gather(*(resolve(handle) for handle in handles)))
        resolved = {handle: user_id for handle, user_id in found.items() if user_id is not None}
        if len(self._known_handles) > 1_000_000:
            self._known_handles.clear()
        self._known_handles.update(resolved)
        return resolved

    async def close(self) -> None:
        await self._channel.close()
