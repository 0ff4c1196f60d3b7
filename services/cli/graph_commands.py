"""`chirp user create`, `follow`, `unfollow`, `block`, `unblock`, `mute`, `unmute` and `profile show|update`: the
graph service's commands.

`profile` is a group (`show`, `update`) rather than `chirp profile HANDLE` plus `chirp profile update`, because
`update` is itself a valid handle.
"""

import sys
from typing import Annotated

import typer
from rich.markup import escape

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.identity.v1 import identity_service_pb2 as identity
from chirp.identity.v1 import identity_service_pb2_grpc
from services.cli import render
from services.cli.common import As, Json, acting, call, clients, resolve
from services.cli.credentials import save_session, saved_session

RELATIONSHIP_WORDS = {
    "following": "you follow them",
    "followed_by": "they follow you",
    "blocking": "you blocked them",
    "blocked_by": "they blocked you",
    "muting": "you muted them",
}


def profile_dict(user, stats=None, relationship=None) -> dict:
    """A user's profile for `--json`; counts and the viewer's relationship when they were asked for."""
    profile = {"id": str(user.user_id), "handle": user.handle, "name": user.display_name, "bio": user.bio}
    profile["indexable"] = user.indexable if user.HasField("indexable") else True
    if stats is not None:
        profile |= {"followers": stats.follower_count, "following": stats.following_count, "posts": stats.post_count}
    if relationship is not None:
        profile["relationship"] = {field: getattr(relationship, field) for field in RELATIONSHIP_WORDS}
    return profile


def print_profile(profile: dict) -> None:
    render.console.print(f"[bold cyan]@{profile['handle']}[/bold cyan] · {escape(profile['name'])}", highlight=False)
    if profile["bio"]:
        render.console.print(profile["bio"], highlight=False, markup=False)
    if "followers" in profile:
        print(f"{profile['followers']} followers · {profile['following']} following · {profile['posts']} posts")
    if "relationship" in profile:
        words = [RELATIONSHIP_WORDS[field] for field, holds in profile["relationship"].items() if holds]
        print("; ".join(words) if words else "you neither follow, block nor mute each other")


app = typer.Typer()
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
profile_app = typer.Typer(help="Profiles: display name, bio, counts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(profile_app, name="profile")


@user_app.command("create")
def user_create(handle: str, name: Annotated[str, typer.Option(help="Display name.")] = "") -> None:
    """Create an account: with your sign-in (`chirp login`), another of yours; otherwise, as the operator, a person
    of that name with this one account and no password yet (`chirp user password` sets one)."""
    c = clients()
    session = saved_session()
    if session is not None:
        request = identity.AddAccountRequest(session_token=session["session_token"], handle=handle, display_name=name)
        account = call(c.identity.AddAccount, request).account
        session["accounts"][account.handle] = account.user_id
        save_session(session)
    else:
        operator = identity_service_pb2_grpc.IdentityServiceStub(c.channel(c.settings.identity_addr))
        account = call(operator.CreateAccount, identity.CreateAccountRequest(handle=handle, display_name=name)).account
    print(f"created @{account.handle} (id {account.user_id})")


@user_app.command("password")
def user_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read it from standard input.")] = False,
) -> None:
    """Set a person's password (yours with your sign-in, anyone's as the operator)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("new password", hide_input=True)
    c = clients()
    session = saved_session()
    request = identity.SetPasswordRequest(
        session_token=session["session_token"] if session else "", username=username, password=password
    )
    call(identity_service_pb2_grpc.IdentityServiceStub(c.channel(c.settings.identity_addr)).SetPassword, request)
    print(f"password set for {username}")


@app.command()
def follow(target: str, as_: As) -> None:
    """Follow TARGET."""
    c = clients()
    call(c.graph.FollowUser, graph.FollowUserRequest(follower_id=acting(c, as_), followee_id=resolve(c, target)))
    print(f"@{as_.removeprefix('@')} follows @{target.removeprefix('@')}")


@app.command()
def unfollow(target: str, as_: As) -> None:
    """Stop following TARGET."""
    c = clients()
    call(c.graph.UnfollowUser, graph.UnfollowUserRequest(follower_id=acting(c, as_), followee_id=resolve(c, target)))
    print(f"@{as_.removeprefix('@')} no longer follows @{target.removeprefix('@')}")


Viewer = Annotated[str, typer.Option("--as", help="Also show how this account stands towards HANDLE.")]
Name = Annotated[str | None, typer.Option("--name", help="New display name; empty for the handle.")]
Bio = Annotated[str | None, typer.Option("--bio", help="New bio (at most 160 characters); empty removes it.")]
Indexable = Annotated[
    bool | None,
    typer.Option("--indexable/--not-indexable", help="Whether search may index your posts (unset: keep as is)."),
]


def report(as_json: bool, as_: str, target: str, verb: str, **holds: bool) -> None:
    me, other = as_.removeprefix("@"), target.removeprefix("@")
    render.print_json([{"user": me, "other": other, **holds}]) if as_json else print(f"@{me} {verb} @{other}")


def pair(as_: str, target: str) -> tuple:
    c = clients()
    return c, acting(c, as_), resolve(c, target)


@app.command()
def block(target: str, as_: As, json_: Json = False) -> None:
    """Block TARGET: ends the follows between you, both ways, and TARGET cannot follow you."""
    c, me, other = pair(as_, target)
    call(c.graph.BlockUser, graph.BlockUserRequest(blocker_id=me, blocked_id=other))
    report(json_, as_, target, "blocked", blocking=True)


@app.command()
def unblock(target: str, as_: As, json_: Json = False) -> None:
    """Lift your block of TARGET (follows it ended do not come back)."""
    c, me, other = pair(as_, target)
    call(c.graph.UnblockUser, graph.UnblockUserRequest(blocker_id=me, blocked_id=other))
    report(json_, as_, target, "unblocked", blocking=False)


@app.command()
def mute(target: str, as_: As, json_: Json = False) -> None:
    """Mute TARGET, privately."""
    c, me, other = pair(as_, target)
    call(c.graph.MuteUser, graph.MuteUserRequest(muter_id=me, muted_id=other))
    report(json_, as_, target, "muted", muting=True)


@app.command()
def unmute(target: str, as_: As, json_: Json = False) -> None:
    """Lift your mute of TARGET."""
    c, me, other = pair(as_, target)
    call(c.graph.UnmuteUser, graph.UnmuteUserRequest(muter_id=me, muted_id=other))
    report(json_, as_, target, "unmuted", muting=False)


@profile_app.command("show")
def profile_show(handle: str, as_: Viewer = "", json_: Json = False) -> None:
    """HANDLE's name, bio and counts; with --as, how that account stands towards HANDLE."""
    c = clients()
    user_id = resolve(c, handle)
    found = call(c.graph.GetUser, graph.GetUserRequest(user_id=user_id))
    relationship = None
    if as_:
        request = graph.GetRelationshipRequest(user_id=acting(c, as_), other_id=user_id)
        relationship = call(c.graph.GetRelationship, request).relationship
    profile = profile_dict(found.user, found.stats, relationship)
    render.print_json([profile]) if json_ else print_profile(profile)


@profile_app.command("update")
def profile_update(
    as_: As, name: Name = None, bio: Bio = None, indexable: Indexable = None, json_: Json = False
) -> None:
    """Change your display name, bio, or whether search indexes your posts."""
    c = clients()
    request = graph.UpdateProfileRequest(user_id=acting(c, as_), display_name=name, bio=bio, indexable=indexable)
    profile = profile_dict(call(c.graph.UpdateProfile, request).user)
    render.print_json([profile]) if json_ else print_profile(profile)
