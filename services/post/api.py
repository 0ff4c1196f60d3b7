"""gRPC API of the post service. Mutations go through the request-id store, so retries are answered, not redone."""

from chirp.post.v1 import post_service_pb2 as pb
from chirp.post.v1 import post_service_pb2_grpc
from services.post.domain import Reaction
from services.post.service import PostService
from services.runtime.access import acting, public
from services.runtime.clock import timestamp_from_datetime
from services.runtime.idempotency import IdempotentRequests
from services.runtime.pagination import ID, clamp_page_size, decode_token, encode_token
from services.runtime.validation import check_requests

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


# Who may call what (services/runtime/access.py).
ACCESS = {
    "CreatePost": acting("author_id", "write:statuses"),
    "GetPost": public(),
    "DeletePost": acting("user_id", "write:statuses"),
    "GetThread": public(),
    "RepostPost": acting("user_id", "write:statuses"),
    "UndoRepost": acting("user_id", "write:statuses"),
    "GetRepost": public(),
    "LikePost": acting("user_id", "write:favourites"),
    "UnlikePost": acting("user_id", "write:favourites"),
    # Public, as Mastodon's favourited_by and reblogged_by are.
    "ListPostLikers": public(),
    "ListPostReposters": public(),
}
# Pages of likers and reposters.
DEFAULT_REACTORS = 40
MAX_REACTORS = 80


class PostApi(post_service_pb2_grpc.PostServiceServicer):
    def __init__(self, service: PostService, requests: IdempotentRequests) -> None:
        self._service = service
        self._requests = requests
        check_requests(self, pb.DESCRIPTOR.services_by_name["PostService"])

    async def CreatePost(self, request: pb.CreatePostRequest, context) -> pb.CreatePostResponse:
        async def create():
            post = await self._service.create_post(
                request.author_id, request.text, request.in_reply_to_post_id, request.quoted_post_id
            )
            return pb.CreatePostResponse(post=post)

        return await self._requests.run(request.request_id, request, create, pb.CreatePostResponse)

    async def GetPost(self, request: pb.GetPostRequest, context) -> pb.GetPostResponse:
        return pb.GetPostResponse(post=await self._service.get_post(request.post_id))

    async def DeletePost(self, request: pb.DeletePostRequest, context) -> pb.DeletePostResponse:
        async def delete():
            await self._service.delete_post(request.post_id, request.user_id)
            return pb.DeletePostResponse()

        return await self._requests.run(request.request_id, request, delete, pb.DeletePostResponse)

    async def GetThread(self, request: pb.GetThreadRequest, context) -> pb.GetThreadResponse:
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys={"after": ID})
        thread = await self._service.get_thread(request.post_id, position["after"] if position else 0, size)
        return pb.GetThreadResponse(
            ancestors=thread.ancestors,
            ancestors_truncated=thread.ancestors_truncated,
            post=thread.post,
            replies=thread.replies,
            next_page_token=encode_token({"after": thread.last_reply_id}) if thread.last_reply_id is not None else "",
        )

    async def RepostPost(self, request: pb.RepostPostRequest, context) -> pb.RepostPostResponse:
        async def repost():
            reacted = await self._service.react(Reaction.REPOST, request.post_id, request.user_id, True)
            return pb.RepostPostResponse(repost_id=reacted.repost_id if reacted else 0)

        return await self._requests.run(request.request_id, request, repost, pb.RepostPostResponse)

    async def GetRepost(self, request: pb.GetRepostRequest, context) -> pb.GetRepostResponse:
        user_id, post, at = await self._service.get_repost(request.repost_id)
        return pb.GetRepostResponse(
            repost_id=request.repost_id, user_id=user_id, post=post, create_time=timestamp_from_datetime(at)
        )

    async def UndoRepost(self, request: pb.UndoRepostRequest, context) -> pb.UndoRepostResponse:
        return await self._react(Reaction.REPOST, False, request, pb.UndoRepostResponse)

    async def LikePost(self, request: pb.LikePostRequest, context) -> pb.LikePostResponse:
        return await self._react(Reaction.LIKE, True, request, pb.LikePostResponse)

    async def UnlikePost(self, request: pb.UnlikePostRequest, context) -> pb.UnlikePostResponse:
        return await self._react(Reaction.LIKE, False, request, pb.UnlikePostResponse)

    async def _react(self, reaction: Reaction, add: bool, request, response_type):
        async def react():
            await self._service.react(reaction, request.post_id, request.user_id, add)
            return response_type()

        return await self._requests.run(request.request_id, request, react, response_type)

    async def ListPostLikers(self, request: pb.ListPostLikersRequest, context) -> pb.ListPostLikersResponse:
        ids, token = await self._reactors(Reaction.LIKE, request)
        return pb.ListPostLikersResponse(user_ids=ids, next_page_token=token)

    async def ListPostReposters(self, request: pb.ListPostRepostersRequest, context) -> pb.ListPostRepostersResponse:
        ids, token = await self._reactors(Reaction.REPOST, request)
        return pb.ListPostRepostersResponse(user_ids=ids, next_page_token=token)

    async def _reactors(self, reaction: Reaction, request) -> tuple[list[int], str]:
        size = clamp_page_size(request.page_size, default=DEFAULT_REACTORS, maximum=MAX_REACTORS)
        position = decode_token(request.page_token, keys={"after": ID})
        ids, last = await self._service.reactors(reaction, request.post_id, position["after"] if position else 0, size)
        return ids, encode_token({"after": last}) if last is not None else ""
