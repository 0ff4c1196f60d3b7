"""`chirp notifications`: list (the default, `--follow` streams), `read`, `prefs` and `actors`.

`notifications` is a group whose callback lists, so `chirp notifications --as HANDLE` keeps working next to
`chirp notifications read --as HANDLE`.
"""

import json
import time
from typing import Annotated

import grpc
import typer
from rich.markup import escape
from rich.table import Table

from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as notification
from chirp.notification.v1.notification_pb2 import NotificationKind
from services.cli import render
from services.cli.common import As, Json, Limit, acting, call, clients, fail

KIND_NAMES = [
    NotificationKind.Name(k).removeprefix("NOTIFICATION_KIND_").lower() for k in NotificationKind.values() if k
]
DOING = {
    "new_follower": "followed you",
    "mention": "mentioned you",
    "reply": "replied",
    "repost": "reposted your post",
    "quote": "quoted your post",
    "like": "liked your post",
}


def kind_number(name: str) -> int:
    if name not in KIND_NAMES:
        raise typer.BadParameter(f"{name!r} is not one of {', '.join(KIND_NAMES)}")
    return NotificationKind.Value(f"NOTIFICATION_KIND_{name.upper()}")


def notification_dict(note) -> dict:
    return {
        **render.notification_dict(note),
        "group": note.group_key,
        "actors": note.actor_count,
        "unread": note.unread,
    }


def describe(note: dict) -> str:
    """ "@ana and 3 others liked your post: text"."""
    others = note["actors"] - 1
    who = f"@{note['actor']}" + (f" and {others} other{'s' if others > 1 else ''}" if others > 0 else "")
    return f"{who} {DOING[note['kind']]}" + (f": {note['text']}" if note["text"] else "")


def print_table(title: str, notes: list[dict]) -> None:
    table = Table(title=title)
    for column in ("when", "", "what"):
        table.add_column(column, style="dim" if column == "when" else None, no_wrap=column != "what")
    for note in notes:
        table.add_row(note["created_at"][:19].replace("T", " "), "•" if note["unread"] else "", escape(describe(note)))
    render.console.print(table if notes else f"[dim]{title}: nothing yet[/dim]")


def preferences_dict(preferences) -> dict:
    disabled = {NotificationKind.Name(k).removeprefix("NOTIFICATION_KIND_").lower() for k in preferences.disabled_kinds}
    return {
        "on": [k for k in KIND_NAMES if k not in disabled],
        "off": sorted(disabled),
        "only_following": preferences.only_following,
    }


app = typer.Typer(help="Notifications: list (default), read, prefs, actors.", invoke_without_command=True)


Kind = Annotated[str, typer.Option("--kind", help=f"Only this kind: {', '.join(KIND_NAMES)}.")]


@app.callback()
def notifications(
    ctx: typer.Context,
    as_: Annotated[str, typer.Option("--as", help="Handle of the account acting.")] = "",
    limit: Limit = 20,
    json_: Json = False,
    kind: Kind = "",
    follow: Annotated[bool, typer.Option("--follow", help="Keep streaming new notifications (Ctrl-C stops).")] = False,
) -> None:
    """Notifications of HANDLE, newest first; `--follow` then streams new ones (one JSON object a line with --json)."""
    if ctx.invoked_subcommand is not None:
        return
    if not as_:
        fail("--as HANDLE is required")
    c = clients()
    user_id = acting(c, as_)
    request = notification.ListNotificationsRequest(
        user_id=user_id, page_size=limit, kind=kind_number(kind) if kind else 0
    )
    notes = call(c.notification.ListNotifications, request).notifications
    if not follow:
        items = [notification_dict(n) for n in notes]
        render.print_json(items) if json_ else print_table(f"notifications of @{as_.removeprefix('@')}", items)
        return
    for note in reversed(notes):
        show_one(note, json_)
    stream(c, user_id, notes[0].notification_id if notes else "", json_)


def show_one(note, as_json: bool) -> None:
    item = notification_dict(note)
    print(
        json.dumps(item, ensure_ascii=False)
        if as_json
        else f"{item['created_at'][:19].replace('T', ' ')}  {describe(item)}",
        flush=True,
    )


def stream(c, user_id: int, last_id: str, as_json: bool) -> None:
    """Reconnects with the last id seen when the server goes away, dropping what it already showed."""
    shown_ids: set[str] = {last_id}
    while True:
        try:
            request = notification.StreamNotificationsRequest(user_id=user_id, after_notification_id=last_id)
            for message in c.notification.StreamNotifications(request):
                note = message.notification
                if note.notification_id not in shown_ids:
                    shown_ids.add(note.notification_id)
                    show_one(note, as_json)
                    last_id = note.notification_id
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                fail(f"{error.details()} ({error.code().name})")
            time.sleep(1)


@app.command("read")
def read(
    as_: As, up_to: Annotated[str, typer.Option("--up-to", help="A notification id; default everything.")] = ""
) -> None:
    """Mark notifications as read."""
    c = clients()
    user_id = acting(c, as_)
    marked = call(c.notification.MarkRead, notification.MarkReadRequest(user_id=user_id, notification_id=up_to))
    unread = call(c.notification.GetUnreadCount, notification.GetUnreadCountRequest(user_id=user_id)).unread_count
    print(f"read up to {marked.read_up_to or 'nothing yet'}; {unread} unread")


@app.command("prefs")
def prefs(
    as_: As,
    off: Annotated[list[str] | None, typer.Option("--off", help="Turn a kind off (repeatable).")] = None,
    on: Annotated[list[str] | None, typer.Option("--on", help="Turn a kind on (repeatable).")] = None,
    only_following: Annotated[
        bool | None, typer.Option("--only-following/--everyone", help="Only from people you follow, or from anyone.")
    ] = None,
    json_: Json = False,
) -> None:
    """Show the preferences, changing them first when options are given."""
    c = clients()
    user_id = acting(c, as_)
    current = call(c.notification.GetPreferences, notification.GetPreferencesRequest(user_id=user_id)).preferences
    if off or on or only_following is not None:
        disabled = (set(current.disabled_kinds) | {kind_number(k) for k in off or []}) - {
            kind_number(k) for k in on or []
        }
        wanted = notification_pb2.NotificationPreferences(
            disabled_kinds=sorted(disabled),
            only_following=current.only_following if only_following is None else only_following,
        )
        current = call(
            c.notification.UpdatePreferences, notification.UpdatePreferencesRequest(user_id=user_id, preferences=wanted)
        ).preferences
    shown = preferences_dict(current)
    if json_:
        print(json.dumps(shown))
    else:
        print(
            f"on: {', '.join(shown['on']) or 'nothing'}; off: {', '.join(shown['off']) or 'nothing'}; "
            + ("only from people you follow" if shown["only_following"] else "from everyone")
        )


@app.command("actors")
def actors(notification_id: str, as_: As, limit: Limit = 20, json_: Json = False) -> None:
    """Everyone in a grouped notification, newest first."""
    c = clients()
    request = notification.ListNotificationActorsRequest(
        user_id=acting(c, as_), notification_id=notification_id, page_size=limit
    )
    items = [
        {"handle": a.handle, "at": render.iso(a.create_time)}
        for a in call(c.notification.ListNotificationActors, request).actors
    ]
    render.print_json(items) if json_ else print("\n".join(f"@{i['handle']}" for i in items))
