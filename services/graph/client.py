"""What other services ask the graph service: does a user exist, who do these handles name; and, for the identity
service alone, create an account."""

import asyncio

import grpc

from chirp.graph.v1 import graph_pb2, graph_service_pb2_grpc
from chirp.graph.v1 import graph_service_pb2 as pb
from services.runtime.credentials import METADATA_KEY
from services.runtime.errors import AlreadyExists, InvalidArgument, error_reason

# Graph's refusals of CreateUser that the caller passes on as they are (a bad or taken handle).
_REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument, grpc.StatusCode.ALREADY_EXISTS: AlreadyExists}


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

    async def create_user(self, handle: str, display_name: str, request_id: str, credential: str) -> graph_pb2.User:
        """CreateUser with `credential` (graph allows only the identity service's own). A refusal of the handle or
        display name comes back as the InvalidArgument or AlreadyExists graph raised, with its reason; a retry with
        the same `request_id` answers the user the first call created."""
        request = pb.CreateUserRequest(handle=handle, display_name=display_name, request_id=request_id)
        try:
            response = await self._stub.CreateUser(
                request, metadata=((METADATA_KEY, f"Bearer {credential}"),), timeout=10
            )
        except grpc.aio.AioRpcError as error:
            refusal = _REFUSALS.get(error.code())
            if refusal is None:
                raise
            raise refusal(error_reason(error) or error.code().name, error.details() or "") from error
        return response.user

    async def close(self) -> None:
        await self._channel.close()
