"""gRPC API of the post service."""

from chirp.post.v1 import post_service_pb2 as pb
from chirp.post.v1 import post_service_pb2_grpc
from services.post.service import PostService


class PostApi(post_service_pb2_grpc.PostServiceServicer):
    def __init__(self, service: PostService) -> None:
        self._service = service

    async def CreatePost(self, request: pb.CreatePostRequest, context) -> pb.CreatePostResponse:
        return pb.CreatePostResponse(post=await self._service.create_post(request.author_id, request.text))

    async def GetPost(self, request: pb.GetPostRequest, context) -> pb.GetPostResponse:
        return pb.GetPostResponse(post=await self._service.get_post(request.post_id))
