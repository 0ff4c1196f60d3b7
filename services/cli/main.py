"""`chirp`: the command line of Chirp. Speaks gRPC to the services; `admin` and `status` also reach the infrastructure."""

import asyncio
import json
import sys
import time
from typing import Annotated

import grpc
import typer

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.cli import render
from services.cli.client import TIMEOUT, Clients
from services.runtime.config import Settings

app = typer.Typer(help="Chirp: post, follow, read timelines and notifications.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
admin_app = typer.Typer(help="Operations: topics and schemas.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo network `make up` loads.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(admin_app, name="admin")
app.add_typer(demo_app, name="demo")

As = Annotated[str, typer.Option("--as", help="Handle of the account acting.")]
Json = Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=100, help="How many items.")]


def clients() -> Clients:
    return Clients(Settings())


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(1)


def call(fn, *args, **kwargs):
    """Run an RPC; on failure print the server's message and the status code, and exit 1."""
    try:
        return fn(*args, timeout=TIMEOUT, **kwargs)
    except grpc.RpcError as error:
        fail(f"{error.details()} ({error.code().name})")


def resolve(c: Clients, handle: str) -> int:
    return call(c.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle)).user.user_id


@user_app.command("create")
def user_create(handle: str, name: Annotated[str, typer.Option(help="Display name.")] = "") -> None:
    """Create an account."""
    user = call(clients().graph.CreateUser, graph.CreateUserRequest(handle=handle, display_name=name)).user
    print(f"created @{user.handle} (id {user.user_id})")


@app.command()
def follow(target: str, as_: As) -> None:
    """Follow TARGET."""
    c = clients()
    call(c.graph.FollowUser, graph.FollowUserRequest(follower_id=resolve(c, as_), followee_id=resolve(c, target)))
    print(f"@{as_.removeprefix('@')} follows @{target.removeprefix('@')}")


@app.command()
def unfollow(target: str, as_: As) -> None:
    """Stop following TARGET."""
    c = clients()
    call(c.graph.UnfollowUser, graph.UnfollowUserRequest(follower_id=resolve(c, as_), followee_id=resolve(c, target)))
    print(f"@{as_.removeprefix('@')} no longer follows @{target.removeprefix('@')}")


@app.command("post")
def post_(text: str, as_: As) -> None:
    """Publish a post; prints its id."""
    c = clients()
    created = call(c.post.CreatePost, post.CreatePostRequest(author_id=resolve(c, as_), text=text)).post
    print(created.post_id)


@app.command()
def status(
    wait: Annotated[float, typer.Option(help="Keep checking up to this many seconds until all are healthy.")] = 0,
    json_: Json = False,
) -> None:
    """Every component and its health. Exit status 0 only when all are healthy."""
    from services.cli.health import check_all

    settings = Settings()
    deadline = time.monotonic() + wait
    while True:
        results = check_all(settings)
        healthy = all(ok for _, _, ok, _ in results)
        if healthy or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if json_:
        print(json.dumps([{"component": n, "address": a, "healthy": ok, "status": s} for n, a, ok, s in results], indent=2))
    else:
        from rich.table import Table

        table = Table(title="Chirp")
        for column in ("component", "address", "status"):
            table.add_column(column)
        for name, address, ok, state in results:
            table.add_row(name, address, f"[green]{state}[/green]" if ok else f"[red]{state}[/red]")
        render.console.print(table)
    raise typer.Exit(0 if healthy else 1)


@admin_app.command("setup")
def admin_setup() -> None:
    """Create missing topics and apply pending schema migrations of every service. Safe to repeat."""
    from services.runtime.logging import configure_logging
    from services.runtime.schema import migrate
    from services.runtime.topics import ensure_topics

    settings = Settings()
    configure_logging("console", "WARNING")

    async def run() -> None:
        created = await ensure_topics(settings)
        print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
        for service in ("graph", "post", "timeline", "notification"):
            applied = await migrate(settings, service, f"services.{service}.schema")
            print(f"schema {settings.keyspace(service)}: " + (f"applied {applied}" if applied else "up to date"))

    asyncio.run(run())


@demo_app.command("load")
def demo_load() -> None:
    """Create the demo accounts, follows and posts. Safe to repeat: what exists is left as it is."""
    from services.cli.demo import load

    load(clients())


@demo_app.command("show")
def demo_show() -> None:
    """Show a demo account's home timeline and how to go on."""
    from services.cli.demo import show

    show(clients())


from services.cli import (  # noqa: E402  (they use the helpers above)
    graph_commands,
    notification_commands,
    post_commands,
    projection_commands,
    text_command,
    timeline_commands,
)

post_commands.register(app)
graph_commands.register(app)
timeline_commands.register(app)
notification_commands.register(app)
projection_commands.register(app)
app.add_typer(text_command.app, name="text")

if __name__ == "__main__":
    app()
