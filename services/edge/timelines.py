"""The home timeline, and search for exact handles and hashtags (Chirp keeps no index to search text by)."""

import re

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.edge import hydrate, pages, render
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

    # Positions are entry ids: a repost sits at its own id, and is shown as a reblog status with that id, so a
    # client's max_id, since_id and min_id are positions in the timeline.
    posts, more = await pages.by_id(fetch, params, pages.timeline_token, hydrate.entry_id, parse_id)
    ids = [str(hydrate.entry_id(post)) for post in posts]
    headers = pages.link_header(call, ids[-1] if more else None, ids[0]) if ids else {}
    return json_response(await hydrate.timeline_statuses(call, posts), headers=headers)


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
