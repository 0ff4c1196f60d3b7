"""`chirp timeline home|user|explain`: the timeline service's commands."""

from typing import Annotated

import typer

from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli import render

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
