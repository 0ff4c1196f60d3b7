"""`chirp timeline home|user|explain|fanout-threshold|sweep-inactive`: the timeline service's commands.

The last two are operators' commands (services/timeline/admin.py)."""

import asyncio
from typing import Annotated

import typer

from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli import render
from services.cli.common import As, Json, Limit, acting, call, clients, resolve
from services.runtime.config import Settings

app = typer.Typer(help="Home and user timelines.", no_args_is_help=True)


def item_extras(post) -> dict:
    """What a timeline item adds to a post as render.post_dict shows it: attribution and counts."""
    return {
        "reposted_by": post.reposted_by_handle,
        "replies": post.stats.reply_count,
        "reposts": post.stats.repost_count,
        "quotes": post.stats.quote_count,
        "likes": post.stats.like_count,
    }


def show_posts(title: str, posts, as_json: bool) -> None:
    items = [render.post_dict(p) | item_extras(p) for p in posts]
    render.print_json(items) if as_json else render.print_posts(title, items)


@app.command("home")
def timeline_home(as_: As, limit: Limit = 20, json_: Json = False) -> None:
    """The posts of everyone HANDLE follows, newest first."""
    c = clients()
    request = timeline.GetHomeTimelineRequest(user_id=acting(c, as_), page_size=limit)
    show_posts(f"home timeline of @{as_.removeprefix('@')}", call(c.timeline.GetHomeTimeline, request).posts, json_)


@app.command("user")
def timeline_user(handle: str, limit: Limit = 20, json_: Json = False) -> None:
    """The posts of HANDLE, newest first."""
    c = clients()
    request = timeline.GetUserTimelineRequest(user_id=resolve(c, handle), page_size=limit)
    show_posts(f"posts of @{handle.removeprefix('@')}", call(c.timeline.GetUserTimeline, request).posts, json_)


@app.command("explain")
def timeline_explain(
    post_id: Annotated[int, typer.Argument(help="The post's id.")], as_: As, json_: Json = False
) -> None:
    """Why POST_ID is or is not in HANDLE's home timeline: the event that put it there (topic, partition,
    offset), or the rule that keeps it out."""
    c = clients()
    answer = call(
        c.timeline.ExplainHomeTimelineEntry,
        timeline.ExplainHomeTimelineEntryRequest(user_id=acting(c, as_), post_id=post_id),
    )
    source = (
        {"topic": answer.source_topic, "partition": answer.source_partition, "offset": answer.source_offset}
        if answer.source_topic
        else None
    )
    if json_:
        render.print_json({"shown": answer.shown, "reason": answer.reason, "source": source})
        return
    print(f"{'shown' if answer.shown else 'not shown'}: {answer.reason}")
    if source:
        print(f"written by the event at {source['topic']} partition {source['partition']} offset {source['offset']}")


@app.command("fanout-threshold")
def fanout_threshold(
    followers: Annotated[
        int | None, typer.Argument(min=0, help="The new threshold; omit it to show the current one.")
    ] = None,
) -> None:
    """Show or change, at run time, how many followers an author may have and still be fanned out on write.
    Posts of authors above it are merged into their followers' home timelines when those are read. Every
    timeline process follows within a second; posts applied before keep the way they were delivered."""
    from services.timeline import admin

    settings = Settings()
    current = asyncio.run(admin.fanout_threshold(settings, followers))
    if current is None:
        print(
            f"fan-out threshold: {settings.fanout_threshold} followers (CHIRP_FANOUT_THRESHOLD; never changed at run "
            "time)"
        )
    else:
        print(f"fan-out threshold: {current} followers")


@app.command("sweep-inactive")
def sweep_inactive(
    inactive_after: Annotated[
        int | None,
        typer.Option(min=0, help="Seconds without a home-timeline read; default CHIRP_INACTIVE_AFTER_SECONDS."),
    ] = None,
) -> None:
    """Mark users who have not read their home timeline for a while as inactive: fan-out skips them until they
    read again, when their home timeline is rebuilt before the read answers. Run it periodically."""
    from services.cli.render import progress_bar
    from services.timeline import admin

    settings = Settings()
    period = settings.inactive_after_seconds if inactive_after is None else inactive_after
    with progress_bar("sweeping", "users") as report:
        marked = asyncio.run(admin.sweep(settings, period, report))
    print(f"{marked} users newly marked inactive (no home-timeline read for {period} s)")
