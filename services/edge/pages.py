"""Mastodon's pagination (max_id, since_id, min_id, limit, and Link headers) over Chirp's page tokens (AIP-158).

Chirp pages only towards older items, from a token. A Mastodon max_id is turned into the token that starts just
below it; this module is the one place that knows a timeline position is a post id and a notification position
is its id (its time and group). since_id and min_id (newer than) read from the newest page down to that id, at
most MAX_PAGES_WALKED pages. Lists whose order is not by id (followers, following) carry the service's token itself
as max_id in their Link header.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from services.edge.calls import Call, parse_id
from services.edge.errors import not_found
from services.runtime.pagination import encode_token

T = TypeVar("T")
MAX_PAGES_WALKED = 5
Fetch = Callable[[str, int], Awaitable[tuple[Sequence[T], str]]]


@dataclass(frozen=True)
class PageParams:
    limit: int
    max_id: str | None
    since_id: str | None
    min_id: str | None


def page_params(call: Call, default: int = 20, maximum: int = 40) -> PageParams:
    """Rails reads `limit=abc` as 0: a bad limit is the default, a large one the maximum."""
    raw = call.query("limit") or ""
    limit = int(raw) if raw.isdigit() and len(raw) < 6 else 0
    return PageParams(
        limit=min(limit or default, maximum),
        max_id=call.query("max_id") or None,
        since_id=call.query("since_id") or None,
        min_id=call.query("min_id") or None,
    )


def timeline_token(max_id: str) -> str:
    return encode_token({"before": parse_id(max_id)})


def notification_position(notification_id: str) -> tuple[int, str]:
    ms, separator, group = notification_id.partition("-")
    if not separator or not group or not ms.isdigit() or len(ms) > 15:
        raise not_found()
    return int(ms), group


def notification_token(max_id: str) -> str:
    ms, group = notification_position(max_id)
    return encode_token({"time": ms, "group": group})


async def by_id(
    fetch: Fetch[T],
    params: PageParams,
    token_for: Callable[[str], str],
    position: Callable[[T], Any],
    position_of_id: Callable[[str], Any],
) -> tuple[list[T], bool]:
    """(a page of items newest first, whether older ones may follow) for Mastodon's id parameters."""
    token = token_for(params.max_id) if params.max_id else ""
    lower = params.min_id or params.since_id
    if lower is None:
        items, next_token = await fetch(token, params.limit)
        return list(items), bool(next_token)
    floor = position_of_id(lower)
    newer: list[T] = []
    for _ in range(MAX_PAGES_WALKED):
        items, token = await fetch(token, 40)
        reached = [item for item in items if position(item) <= floor]
        newer.extend(item for item in items if position(item) > floor)
        if reached or not token:
            break
    # min_id: the items just above it; since_id: the newest ones.
    return (newer[-params.limit :] if params.min_id else newer[: params.limit]), False


def link_header(call: Call, next_max: str | None, prev_min: str | None) -> dict[str, str]:
    """Link: <...?max_id=>; rel="next", <...?min_id=>; rel="prev", keeping the other query parameters."""
    kept = [(k, v) for k, v in call.request.query_params.multi_items() if k not in ("max_id", "min_id", "since_id")]
    url = f"{call.base}{call.request.url.path}"
    links = []
    if next_max:
        links.append(f'<{url}?{urlencode([*kept, ("max_id", next_max)])}>; rel="next"')
    if prev_min:
        links.append(f'<{url}?{urlencode([*kept, ("min_id", prev_min)])}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}
