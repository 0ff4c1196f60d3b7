"""Trends, through the trends service: hashtags as Tags with their history, posts as Statuses, links as
PreviewCards with their history; paged by `offset`, with Mastodon's Link headers.

A request with a user token reads the trends as that user sees them (ListReaderTrends, with their credential: the
accounts they block or mute count for nothing); without one, the trends everyone sees.
"""

from urllib.parse import urlencode, urlsplit

from chirp.trends.v1 import trends_pb2
from chirp.trends.v1 import trends_service_pb2 as pb
from services.edge import hydrate, pages
from services.edge.calls import PUBLIC, Call, Routes, json_response
from services.edge.search import hashtag, history_of, reader_of, window

routes = Routes()


async def _trends(call: Call, kind: int, default: int, maximum: int) -> tuple[list[trends_pb2.Trend], dict]:
    """A page of trends of `kind` from `offset`, and its Link header."""
    limit = pages.page_params(call, default=default, maximum=maximum).limit
    raw = call.query("offset") or ""
    offset = int(raw) if raw.isdigit() and len(raw) < 6 else 0
    reader = reader_of(call)

    async def fetch(token: str, size: int):
        if reader:
            request = pb.ListReaderTrendsRequest(user_id=reader, kind=kind, page_size=size, page_token=token)
            answer = await call.rpc(call.backends.trends.ListReaderTrends, request)
        else:
            request = pb.ListTrendsRequest(kind=kind, page_size=size, page_token=token)
            answer = await call.rpc(call.backends.trends.ListTrends, request)
        return answer.trends, answer.next_page_token

    found, more = await window(fetch, offset, limit)
    return found, _links(call, offset, limit, more)


def _links(call: Call, offset: int, limit: int, more: bool) -> dict[str, str]:
    kept = [(k, v) for k, v in call.request.query_params.multi_items() if k != "offset"]
    url = f"{call.base}{call.request.url.path}"
    links = []
    if more:
        links.append(f'<{url}?{urlencode([*kept, ("offset", offset + limit)])}>; rel="next"')
    if offset:
        links.append(f'<{url}?{urlencode([*kept, ("offset", max(0, offset - limit))])}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


@routes.get("/api/v1/trends/tags", PUBLIC)
async def tags(call: Call):
    found, headers = await _trends(call, trends_pb2.TREND_KIND_HASHTAG, 10, 20)
    return json_response([hashtag(call, trend.term, trend.history) for trend in found], headers=headers)


# Mastodon's older path for trending tags.
@routes.get("/api/v1/trends", PUBLIC)
async def tags_v1(call: Call):
    return await tags(call)


@routes.get("/api/v1/trends/statuses", PUBLIC)
async def statuses(call: Call):
    found, headers = await _trends(call, trends_pb2.TREND_KIND_POST, 20, 40)
    ids = [int(trend.term) for trend in found if trend.term.isdigit()]
    posts = await hydrate.posts(call, ids)
    shown = await hydrate.statuses(call, [posts[post_id] for post_id in ids if post_id in posts])
    return json_response(shown, headers=headers)


def card(trend: trends_pb2.Trend) -> dict:
    """A trending link as Mastodon's PreviewCard: Chirp fetches no pages, so the title is the URL's host and path
    and there is no image; `history` is the link's."""
    parts = urlsplit(trend.term)
    host = parts.hostname or ""
    return {
        "url": trend.term,
        "title": f"{host}{parts.path}".rstrip("/") or trend.term,
        "description": trend.reason,
        "language": trend.language or None,
        "type": "link",
        "author_name": "",
        "author_url": "",
        "authors": [],
        "provider_name": host,
        "provider_url": f"{parts.scheme}://{host}" if parts.scheme and host else "",
        "html": "",
        "width": 0,
        "height": 0,
        "image": None,
        "image_description": "",
        "embed_url": "",
        "blurhash": None,
        "published_at": None,
        "history": history_of(trend.history),
    }


@routes.get("/api/v1/trends/links", PUBLIC)
async def links(call: Call):
    found, headers = await _trends(call, trends_pb2.TREND_KIND_LINK, 10, 20)
    return json_response([card(trend) for trend in found], headers=headers)
