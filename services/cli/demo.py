"""The demo network: a dozen accounts in several languages that follow each other and post."""

import json
import time
from importlib import resources

import grpc
import typer
from rich.progress import Progress

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.identity.v1 import identity_service_pb2 as identity
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli import render
from services.cli.client import TIMEOUT, Clients
from services.cli.common import acting, clients

app = typer.Typer(help="The demo network `make up` loads.", no_args_is_help=True)


def network() -> dict:
    return json.loads(resources.files("services.cli").joinpath("demo_network.json").read_text())


@app.command("load")
def load() -> None:
    """Create the demo people (each signs up through the identity service, with the demo password), their accounts
    and bios, the follows and the posts. Safe to repeat: what exists is left as it is."""
    c = clients()
    data = network()
    ids: dict[str, int] = {}
    with Progress(transient=False) as progress:
        people = progress.add_task("people and accounts", total=len(data["people"]))
        for person in data["people"]:
            ids |= _person(c, person, data["password"])
            progress.advance(people)
        follows = progress.add_task("follows", total=len(data["follows"]))
        for follower, followee in data["follows"]:
            c.act_as(ids[follower])
            request = graph.FollowUserRequest(follower_id=ids[follower], followee_id=ids[followee])
            c.graph.FollowUser(request, timeout=TIMEOUT)
            progress.advance(follows)
        posts = progress.add_task("posts", total=len(data["posts"]))
        already_posted = {handle for handle in ids if _has_posts(c, ids[handle])}
        for author, text in data["posts"]:
            if author not in already_posted:
                c.act_as(ids[author])
                c.post.CreatePost(post.CreatePostRequest(author_id=ids[author], text=text), timeout=TIMEOUT)
            progress.advance(posts)


def _person(c: Clients, person: dict, password: str) -> dict[str, int]:
    """Sign the person up (or in, when they exist), add their other accounts and set every account's bio; returns
    handle -> user id of their accounts."""
    first, *others = person["accounts"]
    signed_up = identity.SignUpRequest(
        username=person["username"], email=person["email"], password=password, display_name=first["name"]
    )
    try:
        session = c.identity.SignUp(signed_up, timeout=TIMEOUT).session_token
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        signed_in = identity.SignInRequest(login=person["username"], password=password)
        session = c.identity.SignIn(signed_in, timeout=TIMEOUT).session_token
    for account in others:
        try:
            added = identity.AddAccountRequest(
                session_token=session, handle=account["handle"], display_name=account["name"]
            )
            c.identity.AddAccount(added, timeout=TIMEOUT)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
    accounts = c.identity.GetSession(identity.GetSessionRequest(session_token=session), timeout=TIMEOUT).accounts
    ids = {account.handle: account.user_id for account in accounts}
    for account in person["accounts"]:
        c.act_as(ids[account["handle"]])
        profile = graph.UpdateProfileRequest(user_id=ids[account["handle"]], bio=account["about"])
        c.graph.UpdateProfile(profile, timeout=TIMEOUT)
    return ids


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
    user_id = acting(c, handle)
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
