"""Search and the hashtag timeline, through the search service: posts by full text (every inflection of a word,
with the service's operators), people by handle, name and bio, hashtags by prefix.

A request with a user token searches as that user, with their credential, so the service leaves out whom they block,
who blocks them and whom they mute; without a token the search is anonymous. Mastodon's `offset` walks the
service's ranking page by page; `max_id`/`min_id`/`since_id` become since:/until: bounds of the query (a post id
holds its time) and a filter on the ids.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.search.v1 import search_service_pb2 as pb
from services.edge import hydrate, pages, render
from services.edge.calls import Access, Call, Routes, flag, json_response, parse_id
from services.edge.errors import HttpError
from services.runtime.ids import timestamp_ms_of
from services.text import analyze
from services.text.terms import fold_case

routes = Routes()

# Public reads: a token that is there must be valid and hold read:search (read:statuses for the tag timeline).
SEARCH = Access("optional", "read:search")
TAG_TIMELINE = Access("optional", "read:statuses")
# The most a page of the search service holds, and how many of its pages one request may walk for an offset.
SERVICE_PAGE = 100
MAX_ROUNDS = 5
# An id's time and a post's create_time may differ by a little: the query's time bounds leave this much room,
# the ids decide.
SLACK_MS = 2000
HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,30})(?:@[^\s@]+)?")
KINDS = ("accounts", "statuses", "hashtags")

Fetch = Callable[[str, int], Awaitable[tuple[Sequence, str]]]


def reader_of(call: Call) -> int:
    """The user a search is made as, 0 for anonymous (or an app's own token)."""
    return call.viewer.user_id if call.viewer and call.viewer.is_user else 0


def _offset(call: Call) -> int:
    raw = call.query("offset") or ""
    return int(raw) if raw.isdigit() and len(raw) < 6 else 0


async def window(fetch: Fetch, offset: int, limit: int) -> tuple[list, bool]:
    """Items [offset, offset + limit) of a ranking the service pages by token, and whether more may follow."""
    found: list = []
    token, seen = "", 0
    for _ in range(MAX_ROUNDS):
        wanted = offset + limit - seen
        items, token = await fetch(token, min(SERVICE_PAGE, max(wanted, limit)))
        for item in items:
            seen += 1
            if seen > offset:
                found.append(item)
            if len(found) == limit:
                return found, True
        if not token:
            return found, False
    return found, bool(token)


def _bounds(params: pages.PageParams) -> str:
    """since:/until: clauses for Mastodon's id parameters (ids are time-ordered)."""
    clauses = []
    if params.max_id:
        clauses.append(f"until:{_instant(timestamp_ms_of(parse_id(params.max_id)) + SLACK_MS)}")
    lower = params.min_id or params.since_id
    if lower:
        clauses.append(f"since:{_instant(max(0, timestamp_ms_of(parse_id(lower)) - SLACK_MS))}")
    return " ".join(clauses)


def _instant(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _posts_fetch(call: Call, query: str, order: int, below: int | None) -> Fetch:
    async def fetch(token: str, size: int):
        request = pb.SearchPostsRequest(
            query=query, user_id=reader_of(call), order_by=order, page_size=size, page_token=token
        )
        answer = await call.rpc(call.backends.search.SearchPosts, request)
        return [hit for hit in answer.results if below is None or hit.post_id < below], answer.next_page_token

    return fetch


async def _statuses_of(call: Call, hits: Sequence[pb.PostResult]) -> list[dict]:
    """The posts of the hits, fetched whole from the post service, in the hits' order (deleted ones left out)."""
    found = await hydrate.posts(call, [hit.post_id for hit in hits])
    return await hydrate.statuses(call, [found[hit.post_id] for hit in hits if hit.post_id in found])


async def _author_clause(call: Call) -> str:
    """`from:handle` for the account_id parameter; 404 for an unknown account."""
    raw = call.query("account_id")
    if not raw:
        return ""
    return f"from:{(await hydrate.author(call, parse_id(raw))).handle}"


async def _statuses(call: Call, query: str, limit: int, offset: int, lenient: bool = False) -> list[dict]:
    """Posts matching the query; a query the post search cannot parse is 422 when statuses were asked for alone
    (the message says what to change), no statuses beside accounts and hashtags (`lenient`)."""
    try:
        return await _matching(call, query, limit, offset)
    except HttpError as error:
        if lenient and error.status == 422:
            return []
        raise


async def _matching(call: Call, query: str, limit: int, offset: int) -> list[dict]:
    params = pages.page_params(call, default=limit, maximum=limit)
    below = parse_id(params.max_id) if params.max_id else None
    full = " ".join(part for part in (query, await _author_clause(call), _bounds(params)) if part)
    fetch = _posts_fetch(call, full, pb.POST_ORDER_RELEVANCE, below)
    hits, _ = await window(fetch, offset, limit)
    lower = params.min_id or params.since_id
    if lower:
        hits = [hit for hit in hits if hit.post_id > parse_id(lower)]
    return await _statuses_of(call, hits)


async def people(call: Call, query: str, limit: int, offset: int, following: bool) -> list[dict]:
    """Accounts by a word of their handle, name or bio, and, for a one-word query, by the start of a handle or
    name (typeahead) first; `following` keeps the ones the reader follows."""
    text = query.strip()
    handle = HANDLE.fullmatch(text)
    if handle:
        text = handle.group(1)

    def fetch_for(prefix: bool) -> Fetch:
        async def fetch(token: str, size: int):
            request = pb.SearchPeopleRequest(
                query=text, user_id=reader_of(call), prefix=prefix, page_size=size, page_token=token
            )
            answer = await call.rpc(call.backends.search.SearchPeople, request)
            return answer.people, answer.next_page_token

        return fetch

    wanted = offset + limit
    if following:
        wanted = SERVICE_PAGE
    searches = [window(fetch_for(False), 0, min(wanted, SERVICE_PAGE))]
    if handle:
        searches.insert(0, window(fetch_for(True), 0, min(wanted, SERVICE_PAGE)))
    exact = _exact(call, text) if handle and not offset else _nothing()
    first, *found = await asyncio.gather(exact, *searches)
    ids = list(dict.fromkeys([*first, *(person.user_id for page, _ in found for person in page)]))
    if following:
        ids = await _followed(call, ids)
    ids = ids[offset : offset + limit]
    accounts = await hydrate.authors(call, ids)
    return [render.account(accounts[user_id], call.base) for user_id in ids if user_id in accounts]


async def _exact(call: Call, handle: str) -> list[int]:
    """The account with exactly this handle, first, as Mastodon puts it (the index may not have it yet); left out
    when the reader blocks or mutes it or is blocked by it, as the index would."""
    try:
        found = await call.rpc(call.backends.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle))
    except HttpError as error:
        if error.status in (404, 422):
            return []
        raise
    user_id, reader = found.user.user_id, reader_of(call)
    if reader == user_id:
        return []
    if reader:
        answer = await call.rpc(
            call.backends.graph.GetRelationship, graph.GetRelationshipRequest(user_id=reader, other_id=user_id)
        )
        relation = answer.relationship
        if relation.blocking or relation.blocked_by or relation.muting:
            return []
    return [user_id]


async def _followed(call: Call, ids: list[int]) -> list[int]:
    reader = reader_of(call)
    if not reader:
        return []

    async def follows(other_id: int) -> bool:
        answer = await call.rpc(
            call.backends.graph.GetRelationship, graph.GetRelationshipRequest(user_id=reader, other_id=other_id)
        )
        return answer.relationship.following

    verdicts = await asyncio.gather(*map(follows, ids))
    return [user_id for user_id, kept in zip(ids, verdicts, strict=True) if kept]


def history_of(days: Sequence) -> list[dict]:
    """Mastodon's history of a Tag or PreviewCard, from trends' TrendDays (newest first): strings, as Mastodon's."""
    return [{"day": str(day.day.seconds), "uses": str(day.uses), "accounts": str(day.accounts)} for day in days]


def hashtag(call: Call, name: str, history: Sequence = ()) -> dict:
    """Mastodon's Tag: with its history where one is known; `following` for a reader (Chirp has no followed
    hashtags)."""
    shown = render.tag(name, call.base)
    shown["history"] = history_of(history)
    if reader_of(call):
        shown["following"] = False
    return shown


async def hashtags(call: Call, query: str, limit: int, offset: int) -> list[dict]:
    words = query.strip().lstrip("#＃")
    tags = analyze(f"#{words}").hashtags if words else []
    if len(tags) != 1 or offset >= SERVICE_PAGE:
        return []
    written = tags[0].value
    answer = await call.rpc(
        call.backends.search.SearchHashtags,
        pb.SearchHashtagsRequest(prefix=written, page_size=min(SERVICE_PAGE, offset + limit)),
    )
    # The tag as written first, as Mastodon answers a valid hashtag name, then the ones it starts.
    names = [written, *(found.tag for found in answer.hashtags if found.tag != fold_case(written))]
    return [hashtag(call, name) for name in names[offset : offset + limit]]


def _guard(call: Call) -> None:
    """Mastodon answers 401 to paging or resolving without a signed-in user."""
    if not reader_of(call) and (call.query("offset") or flag(call.query("resolve"))):
        raise HttpError(401, "Search queries pagination is not supported without authentication")


@routes.get("/api/v2/search", SEARCH)
async def search(call: Call):
    """Accounts, statuses and hashtags matching `q`; `type` picks one of them."""
    query = (call.query("q") or "").strip()
    kind = call.query("type") or ""
    params = pages.page_params(call, default=20, maximum=40)
    offset = _offset(call)
    _guard(call)
    if kind and kind not in KINDS:
        kind = ""
    wants = {name: not kind or kind == name for name in KINDS}
    if not query:
        return json_response({name: [] for name in KINDS})
    found = await asyncio.gather(
        people(call, query, params.limit, offset, flag(call.query("following"))) if wants["accounts"] else _nothing(),
        _statuses(call, query, params.limit, offset, lenient=not kind) if wants["statuses"] else _nothing(),
        hashtags(call, query, params.limit, offset) if wants["hashtags"] else _nothing(),
    )
    return json_response(dict(zip(KINDS, found, strict=True)))


async def _nothing() -> list:
    return []


@routes.get("/api/v1/accounts/search", SEARCH)
async def accounts(call: Call):
    """Accounts only, as typeahead clients ask (limit up to 80)."""
    query = (call.query("q") or "").strip()
    params = pages.page_params(call, default=40, maximum=80)
    offset = _offset(call)
    _guard(call)
    if not query:
        return json_response([])
    return json_response(await people(call, query, params.limit, offset, flag(call.query("following"))))


def _tag_names(call: Call, key: str) -> list[str]:
    """Hashtag names of an any[]/all[]/none[] parameter; what is not a hashtag is left out."""
    names = []
    for value in call.query_list(key)[:10]:
        tags = analyze(f"#{str(value).lstrip('#＃')}").hashtags
        if len(tags) == 1:
            names.append(tags[0].value)
    return names


@routes.get("/api/v1/timelines/tag/{hashtag}", TAG_TIMELINE)
async def tag_timeline(call: Call):
    """Posts with the hashtag (or any of any[]), all of all[], none of none[], newest first; `local` is every post
    (Chirp has one server), `only_media` none (Chirp has no media)."""
    tags = analyze(f"#{call.request.path_params['hashtag'].lstrip('#＃')}").hashtags
    if len(tags) != 1 or flag(call.query("only_media")):
        return json_response([])
    either = " OR ".join(f"#{name}" for name in [tags[0].value, *_tag_names(call, "any")])
    query = " ".join(
        [either, *(f"#{name}" for name in _tag_names(call, "all")), *(f"-#{name}" for name in _tag_names(call, "none"))]
    )
    params = pages.page_params(call)
    below = parse_id(params.max_id) if params.max_id else None
    fetch = _posts_fetch(call, f"{query} {_bounds(params)}".strip(), pb.POST_ORDER_LATEST, below)
    hits, more = await pages.by_id(fetch, params, lambda _: "", lambda hit: hit.post_id, parse_id)
    ids = [str(hit.post_id) for hit in hits]
    headers = pages.link_header(call, ids[-1] if more else None, ids[0]) if ids else {}
    return json_response(await _statuses_of(call, hits), headers=headers)
