"""How the CLI shows posts and notifications: rich for people, JSON (`--json`) for scripts."""

import contextlib
import json
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.table import Table

from chirp.notification.v1.notification_pb2 import NotificationKind

console = Console()


def iso(stamp) -> str:
    return stamp.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def post_dict(post) -> dict:
    return {
        "id": str(post.post_id),
        "author": post.author_handle,
        "author_name": post.author_display_name,
        "text": post.text,
        "created_at": iso(post.create_time),
    }


def stored_post_dict(post, author_handle: str) -> dict:
    """A post as the post service returns it (chirp.post.v1.Post), with its author's handle."""
    return {
        "id": str(post.post_id),
        "author": author_handle,
        "text": post.text,
        "created_at": iso(post.create_time),
        "in_reply_to": str(post.in_reply_to_post_id) if post.in_reply_to_post_id else None,
        "conversation_id": str(post.conversation_id),
        "quoted": str(post.quoted_post_id) if post.quoted_post_id else None,
        "stats": {
            "replies": post.stats.reply_count,
            "reposts": post.stats.repost_count,
            "quotes": post.stats.quote_count,
            "likes": post.stats.like_count,
        },
        "mentions": [{"value": m.handle, "start": m.start, "end": m.end} for m in post.mentions],
        "hashtags": [{"value": e.value, "start": e.start, "end": e.end} for e in post.hashtags],
        "urls": [{"value": e.value, "start": e.start, "end": e.end} for e in post.urls],
        "cashtags": [{"value": e.value, "start": e.start, "end": e.end} for e in post.cashtags],
    }


def notification_dict(note) -> dict:
    return {
        "id": note.notification_id,
        "kind": NotificationKind.Name(note.kind).removeprefix("NOTIFICATION_KIND_").lower(),
        "actor": note.actor_handle,
        "post_id": str(note.post_id) if note.post_id else None,
        "text": note.post_text or None,
        "created_at": iso(note.create_time),
    }


def print_json(items: list[dict]) -> None:
    print(json.dumps(items, ensure_ascii=False, indent=2))


def print_posts(title: str, posts: list[dict]) -> None:
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("when", style="dim", no_wrap=True)
    table.add_column("who", style="bold cyan", no_wrap=True)
    table.add_column("post")
    for post in posts:
        table.add_row(post["created_at"][:19].replace("T", " "), f"@{post['author']}", post["text"])
    console.print(table if posts else f"[dim]{title}: nothing yet[/dim]")


@contextlib.contextmanager
def progress_bar(doing: str, things: str, with_remaining: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar for long work; yields the `(done, total)` callback the work reports to."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn(doing), BarColumn(), MofNCompleteColumn(), TextColumn(things), TimeElapsedColumn()]
    with Progress(*columns, *([TimeRemainingColumn()] if with_remaining else [])) as bar:
        task = bar.add_task(doing, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
