"""The demo network: a dozen accounts in several languages that follow each other and post."""

import json
import time
from importlib import resources

import grpc
import typer
from rich.progress import Progress

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli import render
from services.cli.client import TIMEOUT, Clients
from services.cli.common import clients, resolve

app = typer.Typer(help="The demo network `make up` loads.", no_args_is_help=True)


def network() -> dict:
    return json.loads(resources.files("services.cli").joinpath("demo_network.json").read_text())


@app.command("load")
def load() -> None:
    """Create the demo accounts, follows and posts. Safe to repeat: what exists is left as it is."""
    c = clients()
    data = network()
    ids: dict[str, int] = {}
    with Progress(transient=False) as progress:
        users = progress.add_task("accounts", total=len(data["users"]))
        for user in data["users"]:
            try:
                request = graph.CreateUserRequest(
                    handle=user["handle"], display_name=user["name"], request_id=f"demo-{user['handle']}"
                )
                ids[user["handle"]] = c.graph.CreateUser(request, timeout=TIMEOUT).user.user_id
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                ids[user["handle"]] = resolve(c, user["handle"])
            progress.advance(users)
        follows = progress.add_task("follows", total=len(data["follows"]))
        for follower, followee in data["follows"]:
            c.graph.FollowUser(
                graph.FollowUserRequest(follower_id=ids[follower], followee_id=ids[followee]), timeout=TIMEOUT
            )
            progress.advance(follows)
        posts = progress.add_task("posts", total=len(data["posts"]))
        already_posted = {handle for handle in ids if _has_posts(c, ids[handle])}
        for author, text in data["posts"]:
            if author not in already_posted:
                c.post.CreatePost(post.CreatePostRequest(author_id=ids[author], text=text), timeout=TIMEOUT)
            progress.advance(posts)


def _has_posts(c: Clients, user_id: int) -> bool:
    """Whether an account already posted (so a second `make up` does not post the demo twice)."""
    request = timeline.GetUserTimelineRequest(user_id=user_id, page_size=1)
    return bool(c.timeline.GetUserTimeline(request, timeout=TIMEOUT).posts)


@app.command("show")
def show() -> None:
    """Show a demo account's home timeline and how to go on."""
    c = clients()
    data = network()
    handle = data["show"]
    user_id = resolve(c, handle)
    expected = sum(1 for author, _ in data["posts"] if author == handle or [handle, author] in data["follows"])
    deadline = time.monotonic() + 30
    while True:
        posts = c.timeline.GetHomeTimeline(
            timeline.GetHomeTimelineRequest(user_id=user_id, page_size=20), timeout=TIMEOUT
        ).posts
        if len(posts) >= min(expected, 20) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    render.print_posts(f"home timeline of @{handle}", [render.post_dict(p) for p in posts])
    render.console.print(
        "\n[bold]Chirp is running.[/bold] Try:\n"
        f"  .venv/bin/chirp timeline home --as {handle}\n"
        "  .venv/bin/chirp user create ada --name 'Ada'\n"
        f"  .venv/bin/chirp follow --as ada {handle}\n"
        "  .venv/bin/chirp post --as ada 'Hello from Chirp 👋'\n"
        "  .venv/bin/chirp notifications --as giulia_news\n"
        "  .venv/bin/chirp status\n"
        "Stop with `make down` (data is kept); `make clean` deletes it.",
        highlight=False,
    )
