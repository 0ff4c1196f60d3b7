"""`chirp projections rebuild timeline|notifications`: replay the log into a new version of a projection."""

import asyncio
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from services.notification.projection import NotificationProjection
from services.notification.repository import NotificationRepository
from services.runtime.config import Settings
from services.runtime.rebuild import rebuild
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.timeline.projection import TimelineProjection
from services.timeline.repository import TimelineRepository


def projection_builders(settings: Settings) -> dict:
    """Projection name -> (owning service, how to build it over a session and a versioned keyspace)."""
    post_topic, graph_topic = settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name)
    return {
        "timeline": (
            "timeline",
            lambda session, keyspace: TimelineProjection(
                TimelineRepository(session, keyspace, settings.keyspace("timeline")),
                post_topic,
                graph_topic,
                settings.fanout_threshold,
            ),
        ),
        "notifications": (
            "notification",
            lambda session, keyspace: NotificationProjection(
                NotificationRepository(session, keyspace, settings.keyspace("notification")),
                post_topic,
                graph_topic,
                settings.max_notified_mentions,
            ),
        ),
    }


def register(app: typer.Typer) -> None:
    projections_app = typer.Typer(help="Projections: rebuild one from the log.", no_args_is_help=True)
    app.add_typer(projections_app, name="projections")

    @projections_app.command("rebuild")
    def projections_rebuild(
        projection: Annotated[str, typer.Argument(help="Which projection: timeline or notifications.")],
    ) -> None:
        """Replay the topics from the beginning into a new version of the tables; switch reads to it when it has
        caught up. The old version serves until then."""
        settings = Settings()
        builders = projection_builders(settings)
        if projection not in builders:
            raise typer.BadParameter(f"{projection!r} cannot be rebuilt; choose one of {', '.join(builders)}")
        service, build = builders[projection]
        columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TextColumn("events"), TimeElapsedColumn(), TimeRemainingColumn())
        topics = [settings.topic(POST_EVENTS.name), settings.topic(GRAPH_EVENTS.name)]
        with Progress(*columns) as bar:
            task = bar.add_task("replay", total=None)
            version = asyncio.run(
                rebuild(settings, service, topics, build, lambda done, total: bar.update(task, completed=done, total=total))
            )
        print(f"{projection} rebuilt as version {version}, which now serves reads; workers follow within seconds")
