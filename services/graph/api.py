"""gRPC API of the graph service: translates between protobuf and the use cases."""

from chirp.graph.v1 import graph_service_pb2 as pb
from chirp.graph.v1 import graph_service_pb2_grpc
from services.graph.events import user_message
from services.graph.service import GraphService
from services.runtime.pagination import clamp_page_size, decode_token, encode_token

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class GraphApi(graph_service_pb2_grpc.GraphServiceServicer):
    def __init__(self, service: GraphService) -> None:
        self._service = service

    async def CreateUser(self, request: pb.CreateUserRequest, context) -> pb.CreateUserResponse:
        user = await self._service.create_user(request.handle, request.display_name, request.request_id)
        return pb.CreateUserResponse(user=user_message(user))

    async def GetUser(self, request: pb.GetUserRequest, context) -> pb.GetUserResponse:
        return pb.GetUserResponse(user=user_message(await self._service.get_user(request.user_id)))

    async def ResolveHandle(self, request: pb.ResolveHandleRequest, context) -> pb.ResolveHandleResponse:
        return pb.ResolveHandleResponse(user=user_message(await self._service.resolve_handle(request.handle)))

    async def FollowUser(self, request: pb.FollowUserRequest, context) -> pb.FollowUserResponse:
        await self._service.follow(request.follower_id, request.followee_id)
        return pb.FollowUserResponse()

    async def UnfollowUser(self, request: pb.UnfollowUserRequest, context) -> pb.UnfollowUserResponse:
        await self._service.unfollow(request.follower_id, request.followee_id)
        return pb.UnfollowUserResponse()

    async def ListFollowers(self, request: pb.ListFollowersRequest, context) -> pb.ListFollowersResponse:
        users, token = await self._page("followers", request)
        return pb.ListFollowersResponse(users=users, next_page_token=token)

    async def ListFollowing(self, request: pb.ListFollowingRequest, context) -> pb.ListFollowingResponse:
        users, token = await self._page("following", request)
        return pb.ListFollowingResponse(users=users, next_page_token=token)

    async def _page(self, direction: str, request):
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys=("after",))
        users, last = await self._service.list_edges(direction, request.user_id, position["after"] if position else 0, size)
        return [user_message(user) for user in users], encode_token({"after": last}) if last is not None else ""
