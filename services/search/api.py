"""gRPC API of the search service."""

import zlib

from chirp.search.v1 import search_service_pb2 as pb
from chirp.search.v1 import search_service_pb2_grpc
from services.runtime.access import acting_when_set, public
from services.runtime.clock import timestamp_from_ms
from services.runtime.errors import InvalidArgument
from services.runtime.pagination import ID, UNIX_MS, Integer, clamp_page_size, decode_token, encode_token
from services.runtime.validation import check_requests
from services.search.backends import Sort
from services.search.domain import QueryError
from services.search.service import SearchService

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
DEFAULT_HASHTAGS = 10
# Relevance pages go this deep at most (a ranking is not a list to walk to its end: sort by latest for that).
MAX_OFFSET = 10_000

# Who may call what (services/runtime/access.py): search is public; searching as a user reads their blocks and
# mutes, so it needs their credential with read:search (or the operator's).
ACCESS = {
    "SearchPosts": acting_when_set("user_id", "read:search"),
    "SearchPeople": acting_when_set("user_id", "read:search"),
    "SearchHashtags": public(),
}

_ORDERS = {
    pb.POST_ORDER_UNSPECIFIED: Sort.RELEVANCE,
    pb.POST_ORDER_RELEVANCE: Sort.RELEVANCE,
    pb.POST_ORDER_LATEST: Sort.LATEST,
}
# A page token names the query it pages (a digest), so a token used with another query is refused.
_DIGEST = Integer(0, 2**32 - 1)
_RELEVANCE_TOKEN = {"q": _DIGEST, "offset": Integer(0, MAX_OFFSET)}
_LATEST_TOKEN = {"q": _DIGEST, "time": UNIX_MS, "post": ID}
_PEOPLE_TOKEN = {"q": _DIGEST, "offset": Integer(0, MAX_OFFSET)}


def _digest(*parts: object) -> int:
    return zlib.crc32("\x1f".join(str(part) for part in parts).encode())


def _check_token(position: dict | None, digest: int) -> dict | None:
    if position is not None and position["q"] != digest:
        raise InvalidArgument(
            "PAGE_TOKEN_MISMATCH", "page_token belongs to another query or order: send the same query with it"
        )
    return position


class SearchApi(search_service_pb2_grpc.SearchServiceServicer):
    def __init__(self, service: SearchService) -> None:
        self._service = service
        check_requests(self, pb.DESCRIPTOR.services_by_name["SearchService"])

    async def SearchPosts(self, request: pb.SearchPostsRequest, context) -> pb.SearchPostsResponse:
        sort = _ORDERS[request.order_by]
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        digest = _digest(request.query, sort.value, request.user_id)
        offset, before = 0, None
        if sort is Sort.RELEVANCE:
            position = _check_token(decode_token(request.page_token, keys=_RELEVANCE_TOKEN), digest)
            offset = position["offset"] if position else 0
        else:
            position = _check_token(decode_token(request.page_token, keys=_LATEST_TOKEN), digest)
            before = (position["time"], position["post"]) if position else None
        try:
            page = await self._service.search_posts(request.query, request.user_id, sort, size, offset, before)
        except QueryError as error:
            raise InvalidArgument("QUERY_INVALID", f"query: {error}", field="query") from None
        token = ""
        if page.next_offset is not None and page.next_offset <= MAX_OFFSET:
            token = encode_token({"q": digest, "offset": page.next_offset})
        elif page.next_before is not None:
            token = encode_token({"q": digest, "time": page.next_before[0], "post": page.next_before[1]})
        return pb.SearchPostsResponse(
            results=[
                pb.PostResult(
                    post_id=hit.post_id,
                    author_id=hit.author_id,
                    author_handle=hit.author_handle,
                    text=hit.text,
                    create_time=timestamp_from_ms(hit.create_time_ms),
                    language=hit.language,
                    score=hit.score,
                )
                for hit in page.hits
            ],
            next_page_token=token,
            total_size=page.total,
        )

    async def SearchPeople(self, request: pb.SearchPeopleRequest, context) -> pb.SearchPeopleResponse:
        size = clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        digest = _digest(request.query, request.prefix, request.user_id)
        position = _check_token(decode_token(request.page_token, keys=_PEOPLE_TOKEN), digest)
        offset = position["offset"] if position else 0
        try:
            people, more = await self._service.search_people(
                request.query, request.user_id, request.prefix, size, offset
            )
        except QueryError as error:
            raise InvalidArgument("QUERY_INVALID", f"query: {error}", field="query") from None
        token = encode_token({"q": digest, "offset": offset + size}) if more and offset + size <= MAX_OFFSET else ""
        return pb.SearchPeopleResponse(
            people=[
                pb.PersonResult(
                    user_id=found.person.user_id,
                    handle=found.person.handle,
                    display_name=found.person.display_name,
                    bio=found.person.bio,
                    follower_count=found.follower_count,
                    score=found.score,
                )
                for found in people
            ],
            next_page_token=token,
        )

    async def SearchHashtags(self, request: pb.SearchHashtagsRequest, context) -> pb.SearchHashtagsResponse:
        size = clamp_page_size(request.page_size, default=DEFAULT_HASHTAGS, maximum=MAX_PAGE_SIZE)
        found = await self._service.hashtags(request.prefix, size)
        return pb.SearchHashtagsResponse(
            hashtags=[pb.HashtagResult(tag=tag.tag, post_count=tag.posts) for tag in found]
        )
