"""gRPC API of the timeline service: pages of entries, hydrated from the service's own projections.

A home page merges the reader's rows with the held-back entries of the high-follower authors they follow (hybrid
fan-out), shows each post once, at its newest entry (its own place or the latest repost), and, for a reader back
from inactivity, merges in the newest entries of the accounts they follow while their rows are rebuilt.
"""

import asyncio
from collections.abc import Awaitable

from prometheus_client import Histogram

from chirp.post.v1 import post_pb2
from chirp.timeline.v1 import timeline_pb2, timeline_service_pb2_grpc
from chirp.timeline.v1 import timeline_service_pb2 as pb
from services.graph.client import GraphClient
from services.runtime.access import acting, public
from services.runtime.clock import now_ms
from services.runtime.errors import NotFound
from services.runtime.pagination import ID, clamp_page_size, decode_token, encode_token
from services.runtime.projection.versions import ServingRepository
from services.runtime.validation import check_requests
from services.timeline.domain import (
    ACTIVITY_RESOLUTION_MS,
    HomeEntry,
    Provenance,
    explain_home_entry,
    merge_home,
    newest_entries,
    reply_reaches,
)
from services.timeline.hydration_cache import CachedPost, HydrationCache
from services.timeline.inactivity import Rebuilds, first_page
from services.timeline.reach import reaching_posts
from services.timeline.reader_state import Activity, ReaderState
from services.timeline.repository import NEWEST, StoredUser, TimelineRepository

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

HELD_BACK_MERGED = Histogram(
    "chirp_timeline_held_back_merged",
    "Posts of held-back authors (above the fan-out threshold) merged into one home page at read time.",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100),
)


# Who may call what (services/runtime/access.py). A home timeline says whom its reader follows and mutes.
ACCESS = {
    "GetHomeTimeline": acting("user_id", "read:statuses"),
    "GetUserTimeline": public(),
    "ExplainHomeTimelineEntry": acting("user_id", "read:statuses"),
}


class TimelineApi(timeline_service_pb2_grpc.TimelineServiceServicer):
    def __init__(
        self,
        repository: ServingRepository[TimelineRepository],
        readers: ReaderState,
        graph: GraphClient,
        cache: HydrationCache,
    ) -> None:
        self._repository = repository
        self._readers = readers
        self._graph = graph
        self._cache = cache
        self._rebuilds = Rebuilds()
        check_requests(self, pb.DESCRIPTOR.services_by_name["TimelineService"])

    async def GetHomeTimeline(self, request: pb.GetHomeTimelineRequest, context) -> pb.GetHomeTimelineResponse:
        posts, token = await self._page(True, request)
        return pb.GetHomeTimelineResponse(posts=posts, next_page_token=token)

    async def GetUserTimeline(self, request: pb.GetUserTimelineRequest, context) -> pb.GetUserTimelineResponse:
        posts, token = await self._page(False, request)
        return pb.GetUserTimelineResponse(posts=posts, next_page_token=token)

    async def ExplainHomeTimelineEntry(
        self, request: pb.ExplainHomeTimelineEntryRequest, context
    ) -> pb.ExplainHomeTimelineEntryResponse:
        repo = await self._repository.get()
        reader, post_id = request.user_id, request.post_id
        await self._require_user(repo, reader)
        post = (await repo.get_posts([post_id])).get(post_id)
        author_id = post.author_id if post else None
        replied_to = post.in_reply_to_user_id if post else 0
        follows_author = author_id is not None and await repo.follows(reader, author_id)
        source = await self._newest_source(repo, reader, post_id)
        shown, reason = explain_home_entry(
            reader,
            author_id,
            has_row=source is not None,
            held_back=follows_author and await repo.held_back_entry(author_id, post_id),
            follows_author=follows_author,
            muted=author_id in await repo.muted_ids(reader),
            reply_reaches_reader=reply_reaches(
                reader, replied_to, bool(replied_to) and await repo.follows(reader, replied_to)
            ),
        )
        where = (
            dict(source_topic=source.topic, source_partition=source.partition, source_offset=source.offset)
            if source
            else {}
        )
        return pb.ExplainHomeTimelineEntryResponse(shown=shown, reason=reason, **where)

    async def _newest_source(self, repo: TimelineRepository, reader: int, post_id: int) -> Provenance | None:
        """What wrote the post's newest entry in the reader's home timeline (its own place, or a repost)."""
        reposts = (await repo.home_reposts_of(reader, [post_id])).get(post_id, [])
        for position in sorted([post_id, *(position for _, position in reposts)], reverse=True):
            found = await repo.home_entry(reader, position)
            if found is not None:
                return found[1]
        return None

    async def _page(self, home: bool, request) -> tuple[list[timeline_pb2.TimelinePost], str]:
        """A few rounds of independent queries: who and what (the entries, the reader, their mutes and activity),
        held-back entries (home timelines only), then the items' posts, counts, people and other reposts."""
        repo = await self._repository.get()
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        position = decode_token(request.page_token, keys={"before": ID})
        before = position["before"] if position else NEWEST
        reader = request.user_id
        # Asked once, though both the page's entries and its reposts need it.
        followed = asyncio.ensure_future(repo.held_back_authors_followed_by(reader)) if home else None
        known, entries, muted, activity = await asyncio.gather(
            self._cache.users({reader}, repo.get_users),
            home_page(repo, reader, before, size + 1, followed)
            if followed is not None
            else repo.user_page(reader, before, size + 1),
            self._cache.mutes(reader, repo.muted_ids) if home else _nothing(),
            self._readers.activity(reader) if home else _nothing(),
        )
        if not known:
            await self._require_user(repo, reader)
        if home:
            entries = await self._returning(repo, reader, activity, before, size + 1) or entries
        more = len(entries) > size
        entries = entries[:size]
        ids = [entry.post_id for entry in entries]
        posts, counts, people, reposts = await asyncio.gather(
            self._cache.posts(ids, repo.get_posts),
            repo.post_stats(ids),
            self._cache.users(
                {e.author_id for e in entries} | {e.reposted_by for e in entries if e.reposted_by}, repo.get_users
            ),
            self._reposts_of(repo, reader, ids, followed) if followed is not None else _nothing(),
        )
        missing = {post.stored.author_id for post in posts.values()} - people.keys()
        if missing:  # a row written before rows named their author
            people |= await self._cache.users(missing, repo.get_users)
        held_back = {entry.post_id for entry in entries if entry.held_back and not entry.reposted_by}
        if home:
            HELD_BACK_MERGED.observe(len(held_back))
        if held_back:
            reaching = await reaching_posts(repo, reader, {p: posts[p].stored for p in held_back if p in posts})
            posts = {pid: p for pid, p in posts.items() if pid not in held_back or pid in reaching}
        live = [entry for entry in entries if entry.post_id in posts]
        shown = newest_entries(live, reposts or {}, muted or set()) if home else [(entry, 0) for entry in live]
        items = [
            hydrated(entry, posts[entry.post_id], people, counts[entry.post_id], others) for entry, others in shown
        ]
        return items, encode_token({"before": entries[-1].position}) if more else ""

    async def _reposts_of(
        self, repo: TimelineRepository, reader: int, post_ids: list[int], held_back_authors: Awaitable[list[int]]
    ):
        """Every repost of these posts in the reader's home timeline, fanned out or held back by an author they
        follow (`held_back_authors`): what decides which entry of a post is its newest."""
        fanned_out, held_back, followed = await asyncio.gather(
            repo.home_reposts_of(reader, post_ids), repo.held_back_reposts_of(post_ids), held_back_authors
        )
        for post_id, reposts in held_back.items():
            fanned_out.setdefault(post_id, []).extend((r, position) for r, position in reposts if r in followed)
        return fanned_out

    async def _require_user(self, repo: TimelineRepository, user_id: int) -> None:
        """NOT_FOUND unless the user exists: known to this projection or else (created a moment ago, not projected
        yet) to the graph, which alone knows."""
        if not await repo.get_users({user_id}) and not await self._graph.user_exists(user_id):
            raise NotFound("USER_NOT_FOUND", f"there is no user with id {user_id}", user_id=str(user_id))

    async def _returning(
        self, repo: TimelineRepository, reader: int, activity: Activity, before: int, limit: int
    ) -> list[HomeEntry] | None:
        """For a reader fan-out skipped as inactive, or whose rebuild is not done: the page's entries, with what the
        rebuild has not copied yet merged in (None otherwise, and the read is recorded, at most once a minute).

        The newest page reads the followees' own timelines (`first_page`), so it needs neither the reader marked
        active again nor their rows rebuilt: both run after it is read, in the background (`Rebuilds`), a few
        statements at a time. Started before, their thousands of statements for a reader following thousands
        queued ahead of the page's few."""
        now = now_ms()
        if not activity.inactive and not activity.rebuild_pending:
            if activity.last_read_ms is None or now - activity.last_read_ms > ACTIVITY_RESOLUTION_MS:
                await self._readers.record_read(reader, now)
            return None
        if before != NEWEST:
            # A deeper page: from the rows, once they are all there.
            await self._rebuilds.ensure(repo, self._readers, reader, activity.inactive)
            return await home_page(repo, reader, before, limit)
        rows, newest = await asyncio.gather(home_page(repo, reader, before, limit), first_page(repo, reader, limit))
        self._rebuilds.ensure(repo, self._readers, reader, activity.inactive)
        return merge_home(rows, [newest], limit)


async def _nothing() -> None:
    return None


async def home_page(
    repo: TimelineRepository,
    reader: int,
    before: int,
    limit: int,
    held_back_authors: Awaitable[list[int]] | None = None,
) -> list[HomeEntry]:
    """The reader's rows merged with the held-back entries of the authors they follow (`held_back_authors`, when
    the caller has asked for them already)."""
    rows, authors = await asyncio.gather(
        repo.home_page(reader, before, limit), held_back_authors or repo.held_back_authors_followed_by(reader)
    )
    held_back = await asyncio.gather(*(repo.held_back_page(author, before, limit) for author in authors))
    return merge_home(rows, list(held_back), limit)


def hydrated(
    entry: HomeEntry, post: CachedPost, people: dict[int, StoredUser], counts: dict[str, int], other_reposters: int
) -> timeline_pb2.TimelinePost:
    """A whole timeline item: a copy of the post's prebuilt body with who wrote it, who reposted it, its counts and
    its place, from the timeline service's own tables."""
    item = timeline_pb2.TimelinePost()
    item.CopyFrom(post.body)
    author = people.get(post.stored.author_id)
    if author:
        item.author_handle, item.author_display_name = author.handle, author.display_name
    reposter = people.get(entry.reposted_by)
    item.reposted_by_id = entry.reposted_by
    if reposter:
        item.reposted_by_handle = reposter.handle
    item.stats.CopyFrom(
        post_pb2.PostStats(
            reply_count=counts.get("reply", 0),
            repost_count=counts.get("repost", 0),
            quote_count=counts.get("quote", 0),
            like_count=counts.get("like", 0),
        )
    )
    item.entry_id = entry.position
    item.other_reposter_count = other_reposters
    return item
