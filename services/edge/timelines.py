"""The home timeline, and search for exact handles and hashtags (Chirp keeps no index to search text by)."""

import re

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.edge import filters, hydrate, pages, render
from services.edge.calls import Call, Routes, json_response, parse_id, user
from services.edge.errors import HttpError
from services.text import analyze

routes = Routes()

HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,30})(?:@[^\s@]+)?")


@routes.get("/api/v1/timelines/home", user("read:statuses"))
async def home(call: Call):
    params = pages.page_params(call)

    async def fetch(token: str, size: int):
        answer = await call.rpc(
            call.backends.timeline.GetHomeTimeline,
            timeline.GetHomeTimelineRequest(user_id=call.user_id, page_size=size, page_token=token),
        )
        return answer.posts, answer.next_page_token

    mine = await filters.reader_filters(call, "home")
    shown = filters.filtering(
        fetch, filters.by_text(mine, lambda p: p.text), lambda p: pages.timeline_token(str(p.post_id))
    )
    posts, more = await pages.by_id(shown, params, pages.timeline_token, lambda p: p.post_id, parse_id)
    ids = [str(post.post_id) for post in posts]
    headers = pages.link_header(call, ids[-1] if more else None, ids[0]) if ids else {}
    return json_response(await hydrate.timeline_statuses(call, posts, mine), headers=headers)


@routes.get("/api/v2/search", user("read:search"))
async def search(call: Call):
    """Accounts by exact handle (`ada`, `@ada`, `@ada@this.host`) and hashtags by exact name; no statuses."""
    query = (call.query("q") or "").strip()
    kind = call.query("type")
    found: dict = {"accounts": [], "statuses": [], "hashtags": []}
    handle = HANDLE.fullmatch(query)
    if handle and kind in (None, "", "accounts"):
        try:
            answer = await call.rpc(
                call.backends.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle.group(1))
            )
            found["accounts"] = [render.account(await hydrate.author(call, answer.user.user_id), call.base)]
        except HttpError as error:
            if error.status not in (404, 422):
                raise
    if kind in (None, "", "hashtags"):
        tags = analyze(query if query.startswith(("#", "＃")) else f"#{query}").hashtags
        if len(tags) == 1:
            found["hashtags"] = [render.tag(tags[0].value, call.base)]
    return json_response(found)
