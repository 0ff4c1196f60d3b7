"""gRPC API of the timeline service: pages of post ids, hydrated from the service's own projections."""

from chirp.timeline.v1 import timeline_pb2
from chirp.timeline.v1 import timeline_service_pb2 as pb
from chirp.timeline.v1 import timeline_service_pb2_grpc
from services.runtime.errors import NotFound
from services.runtime.events import timestamp_from_datetime
from services.runtime.pagination import clamp_page_size, decode_token, encode_token
from services.runtime.resources import SharedResource
from services.timeline.repository import TimelineRepository

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_NEWEST = 2**63 - 1


class TimelineApi(timeline_service_pb2_grpc.TimelineServiceServicer):
    def __init__(self, repository: SharedResource, graph: SharedResource) -> None:
        # Built on first use, once the event loop runs: the process may be a faust worker that starts it later.
        self._repository = repository
        self._graph = graph

    async def GetHomeTimeline(self, request: pb.GetHomeTimelineRequest, context) -> pb.GetHomeTimelineResponse:
        posts, token = await self._page("home_timeline", request)
        return pb.GetHomeTimelineResponse(posts=posts, next_page_token=token)

    async def GetUserTimeline(self, request: pb.GetUserTimelineRequest, context) -> pb.GetUserTimelineResponse:
        posts, token = await self._page("user_timeline", request)
        return pb.GetUserTimelineResponse(posts=posts, next_page_token=token)

    async def _page(self, table: str, request) -> tuple[list[timeline_pb2.TimelinePost], str]:
        repo: TimelineRepository = await self._repository.get()
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys=("before",))
        if not await repo.get_users({request.user_id}):
            # Unknown to this projection: either no such user, or one created a moment ago. Only the graph knows.
            if not await (await self._graph.get()).user_exists(request.user_id):
                raise NotFound("USER_NOT_FOUND", f"there is no user with id {request.user_id}", user_id=str(request.user_id))
        ids = await repo.timeline_page(table, request.user_id, position["before"] if position else _NEWEST, size + 1)
        more = len(ids) > size
        ids = ids[:size]
        posts = await repo.get_posts(ids)
        authors = await repo.get_users({post.author_id for post in posts.values()})
        items = []
        for post_id in ids:
            post = posts.get(post_id)
            if post is None:
                continue
            author = authors.get(post.author_id)
            items.append(
                timeline_pb2.TimelinePost(
                    post_id=post.post_id,
                    author_id=post.author_id,
                    author_handle=author.handle if author else "",
                    author_display_name=author.display_name if author else "",
                    text=post.text,
                    create_time=timestamp_from_datetime(post.create_time),
                )
            )
        return items, encode_token({"before": ids[-1]}) if more else ""
