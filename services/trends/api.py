"""gRPC API of the trends service: public trends, and a reader's own (without the accounts they block or mute)."""

from chirp.trends.v1 import trends_pb2, trends_service_pb2_grpc
from chirp.trends.v1 import trends_service_pb2 as pb
from services.graph.client import GraphClient
from services.runtime.access import acting, public
from services.runtime.clock import timestamp_from_ms
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.pagination import Integer, clamp_page_size, decode_token, encode_token
from services.runtime.validation import check_requests
from services.text.terms import LANGUAGES
from services.trends.domain import GLOBAL, Kind
from services.trends.repository import TrendsRepository
from services.trends.service import MAX_TRENDS, TrendsReader, TrendView

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = MAX_TRENDS
_POSITION = {"offset": Integer(0, MAX_TRENDS)}

KINDS = {
    trends_pb2.TREND_KIND_HASHTAG: Kind.HASHTAG,
    trends_pb2.TREND_KIND_LINK: Kind.LINK,
    trends_pb2.TREND_KIND_POST: Kind.POST,
}
_KIND_NUMBERS = {kind: number for number, kind in KINDS.items()}

# Who may call what (services/runtime/access.py): trends are public; a reader's trends say whom they block.
ACCESS = {
    "ListTrends": public(),
    "ListReaderTrends": acting("user_id", "read:statuses"),
}


def scope_of(language: str) -> str:
    """The scope a request's language names; INVALID_ARGUMENT for one the analyzer does not detect."""
    if not language:
        return GLOBAL
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise InvalidArgument(
            "LANGUAGE_UNSUPPORTED",
            f"language must be empty (all languages) or one of {', '.join(sorted(LANGUAGES))}, got {language[:20]!r}",
            field="language",
        )
    return code


def kind_of(number: int) -> Kind:
    if number not in KINDS:
        raise InvalidArgument(
            "TREND_KIND_MISSING",
            "kind must be TREND_KIND_HASHTAG, TREND_KIND_LINK or TREND_KIND_POST",
            field="kind",
        )
    return KINDS[number]


def trend_message(view: TrendView) -> trends_pb2.Trend:
    return trends_pb2.Trend(
        kind=_KIND_NUMBERS[view.kind],
        term=view.term,
        language="" if view.scope == GLOBAL else view.scope,
        score=view.score,
        trending_since=timestamp_from_ms(view.since_ms),
        account_count=view.accounts,
        post_count=view.posts,
        weighted_accounts=view.weighted,
        baseline_accounts=view.baseline_weighted,
        reason=view.reason,
        samples=[
            trends_pb2.TrendSample(
                post_id=sample.post_id,
                author_id=sample.author_id,
                author_handle=sample.author_handle,
                text=sample.text,
                create_time=timestamp_from_ms(sample.create_ms),
            )
            for sample in view.samples
        ],
        history=[
            trends_pb2.TrendDay(day=timestamp_from_ms(day), accounts=accounts, uses=uses)
            for day, accounts, uses in view.history
        ],
    )


def _page(views: list[TrendView], page_size: int, page_token: str) -> tuple[list[trends_pb2.Trend], str]:
    size = clamp_page_size(page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    position = decode_token(page_token, keys=_POSITION)
    offset = position["offset"] if position else 0
    page = views[offset : offset + size]
    token = encode_token({"offset": offset + size}) if offset + size < len(views) else ""
    return [trend_message(view) for view in page], token


class TrendsApi(trends_service_pb2_grpc.TrendsServiceServicer):
    def __init__(self, reader: TrendsReader, repository, graph: GraphClient) -> None:
        """`repository` gives the serving version's TrendsRepository (to tell an unknown reader)."""
        self._reader = reader
        self._repository = repository
        self._graph = graph
        check_requests(self, pb.DESCRIPTOR.services_by_name["TrendsService"])

    async def ListTrends(self, request: pb.ListTrendsRequest, context) -> pb.ListTrendsResponse:
        kind, scope = kind_of(request.kind), scope_of(request.language)
        clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        decode_token(request.page_token, keys=_POSITION)
        trends, token = _page(await self._reader.trends(kind, scope), request.page_size, request.page_token)
        return pb.ListTrendsResponse(trends=trends, next_page_token=token)

    async def ListReaderTrends(self, request: pb.ListReaderTrendsRequest, context) -> pb.ListReaderTrendsResponse:
        kind, scope = kind_of(request.kind), scope_of(request.language)
        clamp_page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        decode_token(request.page_token, keys=_POSITION)
        repo: TrendsRepository = await self._repository()
        # Known to this projection, or else (created a moment ago, not projected yet) to the graph, which alone knows.
        if not await repo.account_known(request.user_id) and not await self._graph.user_exists(request.user_id):
            raise NotFound(
                "USER_NOT_FOUND", f"there is no user with id {request.user_id}", user_id=str(request.user_id)
            )
        views = await self._reader.reader_trends(kind, scope, request.user_id)
        trends, token = _page(views, request.page_size, request.page_token)
        return pb.ListReaderTrendsResponse(trends=trends, next_page_token=token)
