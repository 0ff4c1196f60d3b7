"""gRPC API of the timeline service: pages of post ids, hydrated from the service's own projections.

A home page merges the reader's rows with the held-back posts of the high-follower authors they follow (hybrid
fan-out), and a reader back from inactivity gets their home timeline rebuilt before the first page answers.
"""

import asyncio

from chirp.post.v1 import post_pb2
from chirp.timeline.v1 import timeline_pb2, timeline_service_pb2_grpc
from chirp.timeline.v1 import timeline_service_pb2 as pb
from services.graph.client import GraphClient
from services.runtime.access import acting, public
from services.runtime.clock import now_ms, timestamp_from_datetime
from services.runtime.errors import NotFound
from services.runtime.pagination import ID, clamp_page_size, decode_token, encode_token
from services.runtime.projection.versions import ServingRepository
from services.runtime.validation import check_requests
from services.timeline.domain import (
    ACTIVITY_RESOLUTION_MS,
    HomeEntry,
    explain_home_entry,
    merge_home,
    reply_reaches,
    shown_at_home,
)
from services.timeline.inactivity import rebuild_on_return
from services.timeline.reach import reaching_posts
from services.timeline.reader_state import Activity, ReaderState
from services.timeline.repository import StoredPost, StoredUser, TimelineRepository

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_NEWEST = 2**63 - 1


# Who may call what (services/runtime/access.py). A home timeline says whom its reader follows and mutes.
ACCESS = {
    "GetHomeTimeline": acting("user_id", "read:statuses"),
    "GetUserTimeline": public(),
    "ExplainHomeTimelineEntry": acting("user_id", "read:statuses"),
}


class TimelineApi(timeline_service_pb2_grpc.TimelineServiceServicer):
    def __init__(
        self, repository: ServingRepository[TimelineRepository], readers: ReaderState, graph: GraphClient
    ) -> None:
        self._repository = repository
        self._readers = readers
        self._graph = graph
        check_requests(self, pb.DESCRIPTOR.services_by_name["TimelineService"])

    async def GetHomeTimeline(self, request: pb.GetHomeTimelineRequest, context) -> pb.GetHomeTimelineResponse:
        posts, token = await self._page("home_timeline", request)
        return pb.GetHomeTimelineResponse(posts=posts, next_page_token=token)

    async def GetUserTimeline(self, request: pb.GetUserTimelineRequest, context) -> pb.GetUserTimelineResponse:
        posts, token = await self._page("user_timeline", request)
        return pb.GetUserTimelineResponse(posts=posts, next_page_token=token)

    async def ExplainHomeTimelineEntry(
        self, request: pb.ExplainHomeTimelineEntryRequest, context
    ) -> pb.ExplainHomeTimelineEntryResponse:
        repo = await self._repository.get()
        await self._require_user(repo, request.user_id)
        post = (await repo.get_posts([request.post_id])).get(request.post_id)
        source = await repo.home_row_source(request.user_id, request.post_id)
        author_id = post.author_id if post else None
        replied_to = post.in_reply_to_user_id if post else 0
        follows_author = author_id is not None and await repo.follows(request.user_id, author_id)
        shown, reason = explain_home_entry(
            request.user_id,
            author_id,
            has_row=source is not None,
            held_back=follows_author and await repo.is_held_back(author_id, request.post_id),
            follows_author=follows_author,
            muted=author_id in await repo.muted_ids(request.user_id),
            reply_reaches_reader=reply_reaches(
                request.user_id, replied_to, bool(replied_to) and await repo.follows(request.user_id, replied_to)
            ),
        )
        where = (
            dict(source_topic=source.topic, source_partition=source.partition, source_offset=source.offset)
            if source
            else {}
        )
        return pb.ExplainHomeTimelineEntryResponse(shown=shown, reason=reason, **where)

    async def _page(self, table: str, request) -> tuple[list[timeline_pb2.TimelinePost], str]:
        """Three rounds of independent queries at most: who and what (the rows, the reader, their mutes and activity),
        held-back posts (home timelines only), then the items' posts, counts and people."""
        repo = await self._repository.get()
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys={"before": ID})
        before = position["before"] if position else _NEWEST
        reader, home = request.user_id, table == "home_timeline"
        known, entries, muted, activity = await asyncio.gather(
            repo.get_users({reader}),
            home_page(repo, reader, before, size + 1) if home else repo.timeline_page(table, reader, before, size + 1),
            repo.muted_ids(reader) if home else _nothing(),
            self._readers.activity(reader) if home else _nothing(),
        )
        if not known:
            await self._require_user(repo, reader)
        if home and await self._note_read(repo, reader, activity):
            entries = await home_page(repo, reader, before, size + 1)
        more = len(entries) > size
        entries = entries[:size]
        ids = [entry.post_id for entry in entries]
        posts, counts, people = await asyncio.gather(
            repo.get_posts(ids),
            repo.edge_counts(ids),
            repo.get_users({e.author_id for e in entries} | {e.reposted_by for e in entries if e.reposted_by}),
        )
        missing = {post.author_id for post in posts.values()} - people.keys()
        if missing:  # a row written before rows named their author
            people |= await repo.get_users(missing)
        held_back = {entry.post_id for entry in entries if entry.held_back}
        if held_back:
            reaching = await reaching_posts(repo, reader, {p: posts[p] for p in held_back if p in posts})
            posts = {pid: p for pid, p in posts.items() if pid not in held_back or pid in reaching}
        items = [
            hydrated(entry, posts[entry.post_id], people, counts[entry.post_id])
            for entry in entries
            if entry.post_id in posts
            and shown_at_home(posts[entry.post_id].author_id, entry.reposted_by, muted or set())
        ]
        return items, encode_token({"before": entries[-1].post_id}) if more else ""

    async def _require_user(self, repo: TimelineRepository, user_id: int) -> None:
        """NOT_FOUND unless the user exists: known to this projection or else (created a moment ago, not projected
        yet) to the graph, which alone knows."""
        if not await repo.get_users({user_id}) and not await self._graph.user_exists(user_id):
            raise NotFound("USER_NOT_FOUND", f"there is no user with id {user_id}", user_id=str(user_id))

    async def _note_read(self, repo: TimelineRepository, reader: int, activity: Activity) -> bool:
        """Record the read (at most once a minute). A reader fan-out skipped as inactive is rebuilt first: True
        when that happened and the page must be read again."""
        now = now_ms()
        if activity.inactive:
            await rebuild_on_return(repo, self._readers, reader, now)
            return True
        if activity.last_read_ms is None or now - activity.last_read_ms > ACTIVITY_RESOLUTION_MS:
            await self._readers.record_read(reader, now)
        return False


async def _nothing() -> None:
    return None


async def home_page(repo: TimelineRepository, reader: int, before: int, limit: int) -> list[HomeEntry]:
    """The reader's rows merged with the held-back posts of the authors they follow."""
    rows, authors = await asyncio.gather(
        repo.timeline_page("home_timeline", reader, before, limit), repo.held_back_authors_followed_by(reader)
    )
    held_back = await asyncio.gather(*(repo.held_back_page(author, before, limit) for author in authors))
    return merge_home(rows, list(held_back), limit)


def hydrated(
    entry: HomeEntry, post: StoredPost, people: dict[int, StoredUser], counts: dict[str, int]
) -> timeline_pb2.TimelinePost:
    """A whole timeline item, from the timeline service's own tables."""
    author = people.get(post.author_id)
    reposter = people.get(entry.reposted_by)
    entities = post_pb2.Post.FromString(post.entities)
    return timeline_pb2.TimelinePost(
        post_id=post.post_id,
        author_id=post.author_id,
        author_handle=author.handle if author else "",
        author_display_name=author.display_name if author else "",
        text=post.text,
        create_time=timestamp_from_datetime(post.create_time),
        reposted_by_id=entry.reposted_by,
        reposted_by_handle=reposter.handle if reposter else "",
        mentions=entities.mentions,
        hashtags=entities.hashtags,
        urls=entities.urls,
        cashtags=entities.cashtags,
        stats=post_pb2.PostStats(
            reply_count=counts.get("reply", 0),
            repost_count=counts.get("repost", 0),
            quote_count=counts.get("quote", 0),
            like_count=counts.get("like", 0),
        ),
        in_reply_to_post_id=post.in_reply_to_post_id,
        quoted_post_id=post.quoted_post_id,
    )
