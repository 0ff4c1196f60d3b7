"""gRPC API of the graph service: translates between protobuf and the use cases. Mutations go through the
request-id store, so retries are answered, not redone."""

from chirp.graph.v1 import graph_service_pb2 as pb
from chirp.graph.v1 import graph_service_pb2_grpc
from services.graph.domain import RestrictionKind
from services.graph.events import relationship_message, stats_message, user_message
from services.graph.service import GraphService
from services.runtime.access import acting, privileged, public
from services.runtime.idempotency import IdempotentRequests
from services.runtime.pagination import ID, clamp_page_size, decode_token, encode_token
from services.runtime.validation import check_requests

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


# Who may call what (services/runtime/access.py). Accounts are created through the identity service.
ACCESS = {
    "CreateUser": privileged("identity"),
    "GetUser": public(),
    "ResolveHandle": public(),
    "UpdateProfile": acting("user_id", "write:accounts"),
    "FollowUser": acting("follower_id", "write:follows"),
    "UnfollowUser": acting("follower_id", "write:follows"),
    "ListFollowers": public(),
    "ListFollowing": public(),
    "BlockUser": acting("blocker_id", "write:blocks"),
    "UnblockUser": acting("blocker_id", "write:blocks"),
    "MuteUser": acting("muter_id", "write:mutes"),
    "UnmuteUser": acting("muter_id", "write:mutes"),
    # Private: whom the user blocks and mutes.
    "ListBlockedUsers": acting("user_id", "read:blocks"),
    "ListMutedUsers": acting("user_id", "read:mutes"),
    # Private: it says whom the user blocks and mutes.
    "GetRelationship": acting("user_id", "read:follows"),
    # Private: a user's filters of posts by words (Mastodon's filters v2).
    "CreateFilter": acting("user_id", "write:filters"),
    "UpdateFilter": acting("user_id", "write:filters"),
    "DeleteFilter": acting("user_id", "write:filters"),
    "ListFilters": acting("user_id", "read:filters"),
    "GetFilter": acting("user_id", "read:filters"),
}


class GraphApi(graph_service_pb2_grpc.GraphServiceServicer):
    def __init__(self, service: GraphService, requests: IdempotentRequests) -> None:
        self._service = service
        self._requests = requests
        check_requests(self, pb.DESCRIPTOR.services_by_name["GraphService"])

    async def CreateUser(self, request: pb.CreateUserRequest, context) -> pb.CreateUserResponse:
        async def create():
            user = await self._service.create_user(request.handle, request.display_name, request.request_id)
            return pb.CreateUserResponse(user=user_message(user))

        return await self._requests.run(request.request_id, request, create, pb.CreateUserResponse)

    async def GetUser(self, request: pb.GetUserRequest, context) -> pb.GetUserResponse:
        user, stats = await self._service.get_user_and_stats(request.user_id)
        return pb.GetUserResponse(user=user_message(user), stats=stats_message(stats))

    async def ResolveHandle(self, request: pb.ResolveHandleRequest, context) -> pb.ResolveHandleResponse:
        return pb.ResolveHandleResponse(user=user_message(await self._service.resolve_handle(request.handle)))

    async def UpdateProfile(self, request: pb.UpdateProfileRequest, context) -> pb.UpdateProfileResponse:
        async def update():
            user = await self._service.update_profile(
                request.user_id,
                request.display_name if request.HasField("display_name") else None,
                request.bio if request.HasField("bio") else None,
                request.indexable if request.HasField("indexable") else None,
            )
            return pb.UpdateProfileResponse(user=user_message(user))

        return await self._requests.run(request.request_id, request, update, pb.UpdateProfileResponse)

    async def FollowUser(self, request: pb.FollowUserRequest, context) -> pb.FollowUserResponse:
        async def follow():
            await self._service.follow(request.follower_id, request.followee_id)
            return pb.FollowUserResponse()

        return await self._requests.run(request.request_id, request, follow, pb.FollowUserResponse)

    async def UnfollowUser(self, request: pb.UnfollowUserRequest, context) -> pb.UnfollowUserResponse:
        async def unfollow():
            await self._service.unfollow(request.follower_id, request.followee_id)
            return pb.UnfollowUserResponse()

        return await self._requests.run(request.request_id, request, unfollow, pb.UnfollowUserResponse)

    async def ListFollowers(self, request: pb.ListFollowersRequest, context) -> pb.ListFollowersResponse:
        users, token = await self._page("followers", request)
        return pb.ListFollowersResponse(users=users, next_page_token=token)

    async def ListFollowing(self, request: pb.ListFollowingRequest, context) -> pb.ListFollowingResponse:
        users, token = await self._page("following", request)
        return pb.ListFollowingResponse(users=users, next_page_token=token)

    async def BlockUser(self, request: pb.BlockUserRequest, context) -> pb.BlockUserResponse:
        async def block():
            await self._service.block(request.blocker_id, request.blocked_id)
            return pb.BlockUserResponse()

        return await self._requests.run(request.request_id, request, block, pb.BlockUserResponse)

    async def UnblockUser(self, request: pb.UnblockUserRequest, context) -> pb.UnblockUserResponse:
        async def unblock():
            await self._service.unblock(request.blocker_id, request.blocked_id)
            return pb.UnblockUserResponse()

        return await self._requests.run(request.request_id, request, unblock, pb.UnblockUserResponse)

    async def MuteUser(self, request: pb.MuteUserRequest, context) -> pb.MuteUserResponse:
        async def mute():
            await self._service.mute(request.muter_id, request.muted_id)
            return pb.MuteUserResponse()

        return await self._requests.run(request.request_id, request, mute, pb.MuteUserResponse)

    async def UnmuteUser(self, request: pb.UnmuteUserRequest, context) -> pb.UnmuteUserResponse:
        async def unmute():
            await self._service.unmute(request.muter_id, request.muted_id)
            return pb.UnmuteUserResponse()

        return await self._requests.run(request.request_id, request, unmute, pb.UnmuteUserResponse)

    async def ListBlockedUsers(self, request: pb.ListBlockedUsersRequest, context) -> pb.ListBlockedUsersResponse:
        users, token = await self._restrictions(RestrictionKind.BLOCK, request)
        return pb.ListBlockedUsersResponse(users=users, next_page_token=token)

    async def ListMutedUsers(self, request: pb.ListMutedUsersRequest, context) -> pb.ListMutedUsersResponse:
        users, token = await self._restrictions(RestrictionKind.MUTE, request)
        return pb.ListMutedUsersResponse(users=users, next_page_token=token)

    async def GetRelationship(self, request: pb.GetRelationshipRequest, context) -> pb.GetRelationshipResponse:
        relationship = await self._service.relationship(request.user_id, request.other_id)
        return pb.GetRelationshipResponse(relationship=relationship_message(relationship))

    async def CreateFilter(self, request: pb.CreateFilterRequest, context) -> pb.CreateFilterResponse:
        async def create():
            return pb.CreateFilterResponse(filter=await self._service.create_filter(request.user_id, request.filter))

        return await self._requests.run(request.request_id, request, create, pb.CreateFilterResponse)

    async def UpdateFilter(self, request: pb.UpdateFilterRequest, context) -> pb.UpdateFilterResponse:
        async def update():
            return pb.UpdateFilterResponse(filter=await self._service.update_filter(request.user_id, request.filter))

        return await self._requests.run(request.request_id, request, update, pb.UpdateFilterResponse)

    async def DeleteFilter(self, request: pb.DeleteFilterRequest, context) -> pb.DeleteFilterResponse:
        async def delete():
            await self._service.delete_filter(request.user_id, request.filter_id)
            return pb.DeleteFilterResponse()

        return await self._requests.run(request.request_id, request, delete, pb.DeleteFilterResponse)

    async def ListFilters(self, request: pb.ListFiltersRequest, context) -> pb.ListFiltersResponse:
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys={"after": ID})
        filters, last = await self._service.list_filters(request.user_id, position["after"] if position else 0, size)
        return pb.ListFiltersResponse(
            filters=filters, next_page_token=encode_token({"after": last}) if last is not None else ""
        )

    async def GetFilter(self, request: pb.GetFilterRequest, context) -> pb.GetFilterResponse:
        return pb.GetFilterResponse(filter=await self._service.get_filter(request.user_id, request.filter_id))

    async def _restrictions(self, kind: RestrictionKind, request):
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys={"after": ID})
        users, last = await self._service.list_restrictions(
            kind, request.user_id, position["after"] if position else 0, size
        )
        return [user_message(user) for user in users], encode_token({"after": last}) if last is not None else ""

    async def _page(self, direction: str, request):
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys={"after": ID})
        users, last = await self._service.list_edges(
            direction, request.user_id, position["after"] if position else 0, size
        )
        return [user_message(user) for user in users], encode_token({"after": last}) if last is not None else ""
