"""`chirp login`, `logout` and `accounts`: a person's sign-in, which the CLI keeps (owner-only) so that `--as` any of
their accounts needs no password again."""

import sys
from typing import Annotated

import typer

from chirp.identity.v1 import identity_service_pb2 as identity
from services.cli import render
from services.cli.common import Json, call, clients, fail
from services.cli.credentials import forget_session, save_session, saved_session

app = typer.Typer()
accounts_app = typer.Typer(help="Your accounts: list them, add one.", invoke_without_command=True)
app.add_typer(accounts_app, name="accounts")


def _remember(person, accounts, session_token: str) -> None:
    save_session(
        {
            "session_token": session_token,
            "person": person.username,
            "accounts": {account.handle: account.user_id for account in accounts},
        }
    )


@app.command()
def login(
    login: Annotated[str, typer.Argument(help="Your username or email.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Sign in; your accounts can then be used with --as without the operator's credential."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("password", hide_input=True)
    signed_in = call(clients().identity.SignIn, identity.SignInRequest(login=login, password=password))
    _remember(signed_in.person, signed_in.accounts, signed_in.session_token)
    handles = ", ".join(f"@{account.handle}" for account in signed_in.accounts)
    print(f"signed in as {signed_in.person.username}; accounts: {handles or 'none yet'}")


@app.command()
def logout() -> None:
    """End your sign-in here and on the server."""
    session = saved_session()
    if session is None:
        print("not signed in")
        return
    call(clients().identity.SignOut, identity.SignOutRequest(session_token=session["session_token"]))
    forget_session()
    print(f"signed out {session['person']}")


def _session() -> dict:
    session = saved_session()
    if session is None:
        fail("not signed in: run `chirp login USERNAME` first")
    return session


@accounts_app.callback()
def accounts(ctx: typer.Context, json_: Json = False) -> None:
    """Your accounts (the server's list, which is also remembered here)."""
    if ctx.invoked_subcommand is not None:
        return
    session = _session()
    found = call(clients().identity.GetSession, identity.GetSessionRequest(session_token=session["session_token"]))
    _remember(found.person, found.accounts, session["session_token"])
    items = [{"handle": a.handle, "name": a.display_name, "id": str(a.user_id)} for a in found.accounts]
    if json_:
        render.print_json(items)
    else:
        print("\n".join(f"@{item['handle']} · {item['name']}" for item in items) or "no accounts yet")


@accounts_app.command("add")
def add(handle: str, name: Annotated[str, typer.Option(help="Display name.")] = "") -> None:
    """Create another account of yours (no password needed: your sign-in is the proof)."""
    session = _session()
    request = identity.AddAccountRequest(session_token=session["session_token"], handle=handle, display_name=name)
    account = call(clients().identity.AddAccount, request).account
    session["accounts"][account.handle] = account.user_id
    save_session(session)
    print(f"created @{account.handle} (id {account.user_id})")
