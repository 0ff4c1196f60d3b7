"""What every command module of the CLI shares: the common options, the clients, and how a failed call is shown."""

import sys
from typing import Annotated, NoReturn

import grpc
import typer

from chirp.graph.v1 import graph_service_pb2 as graph
from services.cli.client import TIMEOUT, Clients
from services.runtime.config import Settings

As = Annotated[str, typer.Option("--as", help="Handle of the account acting.")]
Json = Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=100, help="How many items.")]


def clients() -> Clients:
    return Clients(Settings())


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(1)


def call(fn, *args, **kwargs):
    """Run an RPC; on failure print the server's message and the status code, and exit 1."""
    try:
        return fn(*args, timeout=TIMEOUT, **kwargs)
    except grpc.RpcError as error:
        fail(f"{error.details()} ({error.code().name})")


def resolve(c: Clients, handle: str) -> int:
    """The user id of a handle (with or without its @)."""
    return call(c.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle)).user.user_id


def acting(c: Clients, handle: str) -> int:
    """The user id of the account a command acts as (`--as`): the calls that follow carry its credential, from
    your sign-in (`chirp login`) when it is one of your accounts, else the operator's (logged by every service)."""
    user_id = resolve(c, handle)
    c.act_as(user_id)
    try:
        credential = c.credentials.bearer()
    except grpc.RpcError as error:
        fail(f"no credential for @{handle.removeprefix('@')}: {error.details()} ({error.code().name})")
    if credential is None:
        fail(
            f"nothing lets you act as @{handle.removeprefix('@')}: sign in as its owner with `chirp login`, or use "
            f"the operator's credential ({c.settings.operator_credential_file})"
        )
    return user_id
