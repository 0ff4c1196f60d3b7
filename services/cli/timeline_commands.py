"""`chirp timeline home|user|explain|fanout-threshold|sweep-inactive`: the timeline service's commands.

The last two are operators' commands and work on the timeline service's Cassandra tables directly."""

import asyncio
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli import render
from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.events import now_ms
from services.runtime.versions import active_version, ensure_registry, keyspace_of
from services.timeline.inactivity import sweep_inactive
from services.timeline.repository import TimelineRepository

def item_extras(post) -> dict:
    """What a timeline item adds to a post as render.post_dict shows it: attribution and counts."""
    return {
        "reposted_by": post.reposted_by_handle,
        "replies": post.stats.reply_count,
        "reposts": post.stats.repost_count,
        "quotes": post.stats.quote_count,
        "likes": post.stats.like_count,
    }


def register(app: typer.Typer) -> None:
    from services.cli.main import As, Json, Limit, call, clients, resolve

    timeline_app = typer.Typer(help="Home and user timelines.", no_args_is_help=True)
    app.add_typer(timeline_app, name="timeline")

    def show_posts(title: str, posts, as_json: bool) -> None:
        items = [render.post_dict(p) | item_extras(p) for p in posts]
        render.print_json(items) if as_json else render.print_posts(title, items)

    @timeline_app.command("home")
    def timeline_home(as_: As, limit: Limit = 20, json_: Json = False) -> None:
        """The posts of everyone HANDLE follows, newest first."""
        c = clients()
        response = call(c.timeline.GetHomeTimeline, timeline.GetHomeTimelineRequest(user_id=resolve(c, as_), page_size=limit))
        show_posts(f"home timeline of @{as_.removeprefix('@')}", response.posts, json_)

    @timeline_app.command("user")
    def timeline_user(handle: str, limit: Limit = 20, json_: Json = False) -> None:
        """The posts of HANDLE, newest first."""
        c = clients()
        response = call(c.timeline.GetUserTimeline, timeline.GetUserTimelineRequest(user_id=resolve(c, handle), page_size=limit))
        show_posts(f"posts of @{handle.removeprefix('@')}", response.posts, json_)

    @timeline_app.command("explain")
    def timeline_explain(
        post_id: Annotated[int, typer.Argument(help="The post's id.")], as_: As, json_: Json = False
    ) -> None:
        """Why POST_ID is or is not in HANDLE's home timeline: the event that put it there (topic, partition,
        offset), or the rule that keeps it out."""
        c = clients()
        answer = call(
            c.timeline.ExplainHomeTimelineEntry,
            timeline.ExplainHomeTimelineEntryRequest(user_id=resolve(c, as_), post_id=post_id),
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

    @timeline_app.command("fanout-threshold")
    def fanout_threshold(
        followers: Annotated[int | None, typer.Argument(min=0, help="The new threshold; omit it to show the current one.")] = None,
    ) -> None:
        """Show or change, at run time, how many followers an author may have and still be fanned out on write.
        Posts of authors above it are merged into their followers' home timelines when those are read. Every
        timeline process follows within a second; posts applied before keep the way they were delivered."""
        settings = Settings()

        async def run(repo: TimelineRepository) -> str:
            if followers is not None:
                await repo.set_fanout_threshold(followers)
            current = await repo.fanout_threshold()
            return f"fan-out threshold: {settings.fanout_threshold if current is None else current} followers" + (
                " (CHIRP_FANOUT_THRESHOLD; never changed at run time)" if current is None else ""
            )

        print(asyncio.run(on_serving_timeline(settings, run)))

    @timeline_app.command("sweep-inactive")
    def sweep(
        inactive_after: Annotated[
            int | None, typer.Option(min=0, help="Seconds without a home-timeline read; default CHIRP_INACTIVE_AFTER_SECONDS.")
        ] = None,
    ) -> None:
        """Mark users who have not read their home timeline for a while as inactive: fan-out skips them until they
        read again, when their home timeline is rebuilt before the read answers. Run it periodically."""
        settings = Settings()
        period = settings.inactive_after_seconds if inactive_after is None else inactive_after
        columns = (TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), TextColumn("users"), TimeElapsedColumn())
        with Progress(*columns) as bar:
            task = bar.add_task("sweep", total=None)
            report = lambda done, total: bar.update(task, completed=done, total=total)
            marked = asyncio.run(on_serving_timeline(settings, lambda repo: sweep_inactive(repo, now_ms(), period * 1000, report)))
        print(f"{marked} users newly marked inactive (no home-timeline read for {period} s)")


async def on_serving_timeline(settings: Settings, work):
    """Run `work` on the repository of the timeline version that serves reads."""
    base = settings.keyspace("timeline")
    session = await CassandraSession.connect(settings, base)
    try:
        await ensure_registry(session, settings, "timeline")
        version = await active_version(session, settings, "timeline")
        return await work(TimelineRepository(session, keyspace_of(settings, "timeline", version), base))
    finally:
        session.shutdown()
