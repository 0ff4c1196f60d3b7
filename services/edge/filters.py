"""Mastodon's filters v2 (`/api/v2/filters` and their keywords) over the graph service's filters, and how the
edge applies a reader's filters to what it shows: a post a "hide" filter matches is left out, one a "warn" filter
matches carries the filter in its `filtered` field. Matching is the search analyzer's (services.text.filters.py),
so a keyword hides every inflection of the word.

The reader's filters are read from the graph service on each page, with the reader's own credential (they are
private to their owner): one single-partition read, and never a stale filter right after the reader changed it.
"""

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from services.edge import render
from services.edge.calls import Call, Routes, flag, json_response, parse_id, text_param, user
from services.edge.errors import HttpError, not_found, unprocessable
from services.text.filters import ACTIONS, CONTEXTS, FilterMatch, in_force, matching

routes = Routes()

T = TypeVar("T")
NAME_OF_CONTEXT = {number: name for name, number in CONTEXTS.items()}
NAME_OF_ACTION = {number: name for name, number in ACTIONS.items()}
# How many pages of a service a page of the edge may read when filters hide what they hold.
MAX_ROUNDS = 5
_INDEXED = re.compile(r"keywords_attributes\[(\d+)\]\[(\w+)\]")


def keyword_entity(keyword: graph_pb2.FilterKeyword) -> dict:
    return {"id": str(keyword.keyword_id), "keyword": keyword.keyword, "whole_word": keyword.whole_word}


def filter_entity(found: graph_pb2.Filter) -> dict:
    """Mastodon's Filter (v2)."""
    return {
        "id": str(found.filter_id),
        "title": found.title,
        "context": [NAME_OF_CONTEXT[context] for context in found.contexts],
        "expires_at": render.iso_of(found.expire_time) if found.HasField("expire_time") else None,
        "filter_action": NAME_OF_ACTION.get(found.action, "warn"),
        "keywords": [keyword_entity(keyword) for keyword in found.keywords],
        "statuses": [],
    }


def filter_results(matches: Sequence[FilterMatch]) -> list[dict]:
    """Mastodon's FilterResult list, a Status's `filtered`."""
    return [
        {"filter": filter_entity(match.filter), "keyword_matches": list(match.keywords), "status_matches": None}
        for match in matches
    ]


async def reader_filters(call: Call, context: str) -> list[graph_pb2.Filter]:
    """The viewer's filters in force in `context`; none for an anonymous viewer, or a token not allowed to read
    them (read:filters)."""
    if call.viewer is None or not call.viewer.is_user:
        return []
    try:
        found = await _all(call)
    except HttpError as error:
        if error.status in (401, 403):
            return []
        raise
    return in_force(found, CONTEXTS[context], int(time.time() * 1000))


def apply(status: dict, text: str, filters: Sequence[graph_pb2.Filter]) -> dict | None:
    """The status as the reader's filters have it: None when one hides it, else marked with those that warn."""
    matches = matching(filters, text)
    if any(match.hides for match in matches):
        return None
    if matches:
        status = status | {"filtered": filter_results(matches)}
        if status.get("reblog"):
            status["reblog"] = status["reblog"] | {"filtered": status["filtered"]}
    return status


def keeps(filters: Sequence[graph_pb2.Filter], text: str) -> bool:
    """Whether no "hide" filter matches the text."""
    return not any(match.hides for match in matching(filters, text))


def by_text(
    filters: Sequence[graph_pb2.Filter], text_of: Callable[[T], str]
) -> Callable[[Sequence[T]], Awaitable[list[bool]]]:
    """`filtering`'s judge of items that carry their post's text."""

    async def shown(items: Sequence[T]) -> list[bool]:
        return [keeps(filters, text_of(item)) for item in items]

    return shown


def filtering(
    fetch: Callable[[str, int], Awaitable[tuple[Sequence[T], str]]],
    shown: Callable[[Sequence[T]], Awaitable[list[bool]]],
    token_after: Callable[[T], str],
) -> Callable[[str, int], Awaitable[tuple[list[T], str]]]:
    """A page fetch that leaves out what `shown` says the reader's filters hide, reading on (at most MAX_ROUNDS
    pages) so that a page is not empty while items the reader may see remain."""

    async def fetch_shown(token: str, size: int) -> tuple[list[T], str]:
        kept: list[T] = []
        for _ in range(MAX_ROUNDS):
            items, token = await fetch(token, size)
            for index, (item, keep) in enumerate(zip(items, await shown(items), strict=True)):
                if keep:
                    kept.append(item)
                if len(kept) == size:
                    more = index < len(items) - 1 or bool(token)
                    return kept, token_after(item) if more else ""
            if not token:
                break
        return kept, token

    return fetch_shown


async def _all(call: Call) -> list[graph_pb2.Filter]:
    found: list[graph_pb2.Filter] = []
    token = ""
    while True:
        answer = await call.rpc(
            call.backends.graph.ListFilters,
            graph.ListFiltersRequest(user_id=call.user_id, page_size=1000, page_token=token),
        )
        found.extend(answer.filters)
        token = answer.next_page_token
        if not token:
            return found


async def _get(call: Call, filter_id: int) -> graph_pb2.Filter:
    answer = await call.rpc(
        call.backends.graph.GetFilter, graph.GetFilterRequest(user_id=call.user_id, filter_id=filter_id)
    )
    return answer.filter


async def _update(call: Call, changed: graph_pb2.Filter) -> graph_pb2.Filter:
    request = graph.UpdateFilterRequest(user_id=call.user_id, filter=changed, request_id=call.request_id())
    return (await call.rpc(call.backends.graph.UpdateFilter, request)).filter


def _keywords_attributes(body: dict[str, Any]) -> list[dict]:
    """keywords_attributes as a JSON list of objects, or form fields keywords_attributes[0][keyword]."""
    given = body.get("keywords_attributes")
    if isinstance(given, list):
        if not all(isinstance(each, dict) for each in given):
            raise unprocessable("keywords_attributes must be a list of objects")
        return given
    if isinstance(given, dict):
        return [given[key] for key in sorted(given, key=lambda k: int(k) if str(k).isdigit() else 0)]
    indexed: dict[int, dict] = {}
    for key, value in body.items():
        found = _INDEXED.fullmatch(key)
        if found:
            indexed.setdefault(int(found.group(1)), {})[found.group(2)] = value
    return [indexed[index] for index in sorted(indexed)]


def _settings(body: dict[str, Any], into: graph_pb2.Filter) -> None:
    """title, context, filter_action and expires_in of a create or an update, those given, onto `into`."""
    if "title" in body:
        into.title = text_param(body, "title")
    if "context" in body:
        contexts = body["context"] if isinstance(body["context"], list) else [body["context"]]
        unknown = [name for name in contexts if name not in CONTEXTS]
        if unknown:
            raise unprocessable(f"context must be some of {', '.join(CONTEXTS)}")
        del into.contexts[:]
        into.contexts.extend(CONTEXTS[name] for name in contexts)
    if "filter_action" in body:
        action = text_param(body, "filter_action")
        if action not in ACTIONS:
            raise unprocessable("filter_action must be warn or hide")
        into.action = ACTIONS[action]
    if "expires_in" in body:
        raw = body["expires_in"]
        if raw in (None, ""):
            into.ClearField("expire_time")
        else:
            if not str(raw).isdigit() or len(str(raw)) > 10:
                raise unprocessable("expires_in must be a number of seconds")
            stamp = Timestamp()
            stamp.FromMilliseconds(int(time.time() * 1000) + int(raw) * 1000)
            into.expire_time.CopyFrom(stamp)


def _apply_keywords(attributes: list[dict], into: graph_pb2.Filter) -> None:
    """Mastodon's keywords_attributes: with an id, that keyword changed (or removed by `_destroy`); without, a
    new one."""
    for each in attributes:
        keyword_id = each.get("id")
        if keyword_id not in (None, ""):
            wanted = parse_id(keyword_id)
            index = next((i for i, k in enumerate(into.keywords) if k.keyword_id == wanted), None)
            if index is None:
                raise not_found()
            if flag(each.get("_destroy")):
                del into.keywords[index]
                continue
            if "keyword" in each:
                into.keywords[index].keyword = text_param(each, "keyword")
            if "whole_word" in each:
                into.keywords[index].whole_word = flag(each["whole_word"])
        elif not flag(each.get("_destroy")):
            into.keywords.add(keyword=text_param(each, "keyword"), whole_word=flag(each.get("whole_word", True)))


@routes.get("/api/v2/filters", user("read:filters"))
async def index(call: Call):
    return json_response([filter_entity(found) for found in await _all(call)])


@routes.get("/api/v2/filters/{id}", user("read:filters"))
async def show(call: Call):
    return json_response(filter_entity(await _get(call, call.path_id())))


@routes.post("/api/v2/filters", user("write:filters"))
async def create(call: Call):
    body = await call.body()
    wanted = graph_pb2.Filter(action=graph_pb2.FILTER_ACTION_WARN)
    _settings(body, wanted)
    _apply_keywords(_keywords_attributes(body), wanted)
    request = graph.CreateFilterRequest(user_id=call.user_id, filter=wanted, request_id=call.request_id())
    return json_response(filter_entity((await call.rpc(call.backends.graph.CreateFilter, request)).filter))


@routes.put("/api/v2/filters/{id}", user("write:filters"))
async def update(call: Call):
    body = await call.body()
    changed = await _get(call, call.path_id())
    _settings(body, changed)
    _apply_keywords(_keywords_attributes(body), changed)
    return json_response(filter_entity(await _update(call, changed)))


@routes.delete("/api/v2/filters/{id}", user("write:filters"))
async def delete(call: Call):
    await _get(call, call.path_id())  # 404 for a filter that is not the viewer's
    request = graph.DeleteFilterRequest(user_id=call.user_id, filter_id=call.path_id(), request_id=call.request_id())
    await call.rpc(call.backends.graph.DeleteFilter, request)
    return json_response({})


@routes.get("/api/v2/filters/{id}/keywords", user("read:filters"))
async def keywords(call: Call):
    return json_response([keyword_entity(k) for k in (await _get(call, call.path_id())).keywords])


@routes.post("/api/v2/filters/{id}/keywords", user("write:filters"))
async def add_keyword(call: Call):
    body = await call.body()
    changed = await _get(call, call.path_id())
    changed.keywords.add(keyword=text_param(body, "keyword"), whole_word=flag(body.get("whole_word", True)))
    updated = await _update(call, changed)
    return json_response(keyword_entity(updated.keywords[-1]))


async def _owning(call: Call) -> tuple[graph_pb2.Filter, int]:
    """The viewer's filter holding the keyword the path names, and the keyword's place in it; 404 when none."""
    keyword_id = call.path_id()
    for found in await _all(call):
        for index, keyword in enumerate(found.keywords):
            if keyword.keyword_id == keyword_id:
                return found, index
    raise not_found()


@routes.get("/api/v2/filters/keywords/{id}", user("read:filters"))
async def show_keyword(call: Call):
    found, index = await _owning(call)
    return json_response(keyword_entity(found.keywords[index]))


@routes.put("/api/v2/filters/keywords/{id}", user("write:filters"))
async def update_keyword(call: Call):
    body = await call.body()
    found, index = await _owning(call)
    if "keyword" in body:
        found.keywords[index].keyword = text_param(body, "keyword")
    if "whole_word" in body:
        found.keywords[index].whole_word = flag(body["whole_word"])
    updated = await _update(call, found)
    return json_response(keyword_entity(updated.keywords[index]))


@routes.delete("/api/v2/filters/keywords/{id}", user("write:filters"))
async def delete_keyword(call: Call):
    found, index = await _owning(call)
    del found.keywords[index]
    await _update(call, found)
    return json_response({})
