"""`chirp filters list|add|remove`: a user's filters of posts by words (Mastodon's filters v2), kept by the graph
service. A keyword hides (or warns of) every inflection of the word, as search finds it."""

import time
from typing import Annotated

import typer
from google.protobuf.timestamp_pb2 import Timestamp

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from services.cli import render
from services.cli.common import As, Json, acting, call, clients, fail

app = typer.Typer(help="Mute words: filters of posts by words, phrases, contexts and expiry.", no_args_is_help=True)


def filter_dict(found: graph_pb2.Filter) -> dict:
    from services.text.filters import ACTIONS, CONTEXTS  # the text rules load only for the commands that use them

    return {
        "id": str(found.filter_id),
        "title": found.title,
        "contexts": [name for name, number in CONTEXTS.items() if number in found.contexts],
        "action": next(name for name, number in ACTIONS.items() if number == found.action),
        "keywords": [{"keyword": k.keyword, "whole_word": k.whole_word} for k in found.keywords],
        "expires": render.iso(found.expire_time) if found.HasField("expire_time") else None,
    }


def _print(filters: list[dict]) -> None:
    if not filters:
        print("no filters")
    for each in filters:
        words = ", ".join(k["keyword"] + ("" if k["whole_word"] else "*") for k in each["keywords"])
        expiry = f" until {each['expires']}" if each["expires"] else ""
        print(f"{each['id']}  {each['title']}: {each['action']} {words} in {', '.join(each['contexts'])}{expiry}")


@app.command("list")
def list_(as_: As, json_: Json = False) -> None:
    """Your filters, oldest first (expired ones too)."""
    c = clients()
    me = acting(c, as_)
    found, token = [], ""
    while True:
        answer = call(c.graph.ListFilters, graph.ListFiltersRequest(user_id=me, page_size=1000, page_token=token))
        found.extend(filter_dict(each) for each in answer.filters)
        token = answer.next_page_token
        if not token:
            break
    render.print_json(found) if json_ else _print(found)


@app.command()
def add(
    keywords: Annotated[list[str], typer.Argument(help="Words or phrases; each hides every inflection.")],
    as_: As,
    title: Annotated[str, typer.Option(help="The filter's name; the first keyword when not given.")] = "",
    context: Annotated[
        list[str] | None,
        typer.Option(help="Where it applies (repeatable): home, notifications, thread, account, public. Default: all."),
    ] = None,
    action: Annotated[str, typer.Option(help="hide (leave posts out) or warn (mark them).")] = "hide",
    expires_in: Annotated[int, typer.Option(help="Seconds until it stops applying; 0: never.", min=0)] = 0,
    substring: Annotated[bool, typer.Option(help="Match inside longer words too, not whole words only.")] = False,
    json_: Json = False,
) -> None:
    """Make a filter hiding (or warning of) posts that hold any of KEYWORDS."""
    from services.text.filters import ACTIONS, CONTEXTS

    context = context or []
    unknown = [name for name in context if name not in CONTEXTS]
    if unknown or action not in ACTIONS:
        fail(f"contexts are {', '.join(CONTEXTS)} and actions {', '.join(ACTIONS)}")
    wanted = graph_pb2.Filter(
        title=title or keywords[0],
        contexts=[CONTEXTS[name] for name in context] or list(CONTEXTS.values()),
        action=ACTIONS[action],
        keywords=[graph_pb2.FilterKeyword(keyword=keyword, whole_word=not substring) for keyword in keywords],
    )
    if expires_in:
        stamp = Timestamp()
        stamp.FromMilliseconds(int(time.time() * 1000) + expires_in * 1000)
        wanted.expire_time.CopyFrom(stamp)
    c = clients()
    me = acting(c, as_)
    made = call(c.graph.CreateFilter, graph.CreateFilterRequest(user_id=me, filter=wanted)).filter
    render.print_json([filter_dict(made)]) if json_ else _print([filter_dict(made)])


@app.command()
def remove(filter_id: int, as_: As) -> None:
    """Delete one of your filters (by the id `chirp filters list` shows)."""
    c = clients()
    me = acting(c, as_)
    call(c.graph.DeleteFilter, graph.DeleteFilterRequest(user_id=me, filter_id=filter_id))
    print(f"filter {filter_id} removed")
