"""`chirp search posts|people|tags QUERY [--as HANDLE] [--json]`: the search service's commands."""

from typing import Annotated

import typer

from chirp.search.v1 import search_service_pb2 as search
from services.cli import render
from services.cli.common import Json, Limit, acting, call, clients

app = typer.Typer(
    help='Search posts, people and hashtags. Posts: words match every inflection; "phrases", #tag, @handle, '
    "from:handle, lang:xx, since:/until:YYYY-MM-DD, -exclusion, a OR b.",
    no_args_is_help=True,
)

Query = Annotated[str, typer.Argument(help="What to look for.")]
AsReader = Annotated[
    str | None, typer.Option("--as", help="Search as this account: its blocks and mutes are honoured.")
]
Latest = Annotated[bool, typer.Option("--latest", help="Newest first instead of by relevance.")]
Prefix = Annotated[bool, typer.Option("--prefix", help="Typeahead: handles and names starting with QUERY.")]


def _reader(c, as_: str | None) -> int:
    return acting(c, as_) if as_ else 0


@app.command("posts")
def search_posts(query: Query, as_: AsReader = None, latest: Latest = False, limit: Limit = 20, json_: Json = False):
    """Posts matching QUERY, best first (or newest first with --latest)."""
    c = clients()
    request = search.SearchPostsRequest(
        query=query,
        user_id=_reader(c, as_),
        order_by=search.POST_ORDER_LATEST if latest else search.POST_ORDER_RELEVANCE,
        page_size=limit,
    )
    found = call(c.search.SearchPosts, request)
    items = [
        {
            "id": str(hit.post_id),
            "author": hit.author_handle,
            "text": hit.text,
            "created_at": render.iso(hit.create_time),
            "language": hit.language,
            "score": round(hit.score, 4),
        }
        for hit in found.results
    ]
    if json_:
        render.print_json(items)
    else:
        render.print_posts(f"posts matching {query!r} ({found.total_size} in all)", items)


@app.command("people")
def search_people(query: Query, as_: AsReader = None, prefix: Prefix = False, limit: Limit = 20, json_: Json = False):
    """People whose handle, name or bio match QUERY, ranked by relevance and followers."""
    c = clients()
    request = search.SearchPeopleRequest(query=query, user_id=_reader(c, as_), prefix=prefix, page_size=limit)
    found = call(c.search.SearchPeople, request)
    items = [
        {
            "id": str(person.user_id),
            "handle": person.handle,
            "name": person.display_name,
            "bio": person.bio,
            "followers": person.follower_count,
        }
        for person in found.people
    ]
    if json_:
        render.print_json(items)
        return
    if not items:
        render.console.print(f"[dim]nobody matches {query!r}[/dim]")
    for item in items:
        render.console.print(
            f"[bold cyan]@{item['handle']}[/bold cyan] · {item['name']} · {item['followers']} followers",
            highlight=False,
            markup=True,
        )
        if item["bio"]:
            render.console.print(f"  {item['bio']}", highlight=False, markup=False)


@app.command("tags")
def search_tags(query: Query, limit: Limit = 10, json_: Json = False):
    """Hashtags starting with QUERY, most used first."""
    c = clients()
    found = call(c.search.SearchHashtags, search.SearchHashtagsRequest(prefix=query, page_size=limit))
    items = [{"tag": tag.tag, "posts": tag.post_count} for tag in found.hashtags]
    if json_:
        render.print_json(items)
        return
    if not items:
        render.console.print(f"[dim]no hashtag starts with {query!r}[/dim]")
    for item in items:
        print(f"#{item['tag']}  {item['posts']} posts")
