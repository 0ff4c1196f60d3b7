"""The home timeline (search and the hashtag timeline are services/edge/search.py)."""

from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.edge import filters, hydrate, pages
from services.edge.calls import Call, Routes, json_response, parse_id, user

routes = Routes()


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
    mine = await filters.reader_filters(call, "home")
    shown = filters.filtering(
        fetch, filters.by_text(mine, lambda p: p.text), lambda p: pages.timeline_token(str(hydrate.entry_id(p)))
    )
    posts, more = await pages.by_id(shown, params, pages.timeline_token, hydrate.entry_id, parse_id)
    ids = [str(hydrate.entry_id(post)) for post in posts]
    headers = pages.link_header(call, ids[-1] if more else None, ids[0]) if ids else {}
    return json_response(await hydrate.timeline_statuses(call, posts, mine), headers=headers)
