"""`chirp projections rebuild timeline|notifications|search|trends`: replay the log into a new version of a
projection."""

import asyncio
from typing import Annotated

import typer

from services.runtime.config import Settings

app = typer.Typer(help="Projections: rebuild one from the log.", no_args_is_help=True)

# What the command calls each rebuildable projection -> the wiring module that declares it (imported when used).
REBUILDABLE = {
    "timeline": "services.timeline.wiring",
    "notifications": "services.notification.wiring",
    "search": "services.search.wiring",
    "trends": "services.trends.wiring",
}


def projection_named(name: str):
    """The ProjectionSpec a projection's name stands for."""
    import importlib

    if name not in REBUILDABLE:
        raise typer.BadParameter(f"{name!r} cannot be rebuilt; choose one of {', '.join(REBUILDABLE)}")
    return importlib.import_module(REBUILDABLE[name]).PROJECTION


async def _rebuild(settings, name: str, report, replay) -> int:
    """The replay, then whatever the projection's wiring opened is closed (the search index: the service reopens
    it for writing when the new version serves)."""
    import importlib

    wiring = importlib.import_module(REBUILDABLE[name])
    spec = wiring.PROJECTION
    try:
        return await replay(settings, spec, report)
    finally:
        close = getattr(wiring, "close_backends", None)
        if close is not None:
            await close()


@app.command("rebuild")
def rebuild(
    projection: Annotated[str, typer.Argument(help="Which projection: timeline, notifications, search or trends.")],
) -> None:
    """Replay the topics from the beginning into a new version of the tables; switch reads to it when it has
    caught up. The old version serves until then."""
    from services.cli.render import progress_bar
    from services.runtime.projection.rebuild import rebuild as replay_into_new_version

    projection_named(projection)
    settings = Settings()
    with progress_bar("replaying", "events", with_remaining=True) as report:
        version = asyncio.run(_rebuild(settings, projection, report, replay_into_new_version))
    print(f"{projection} rebuilt as version {version}, which now serves reads; workers follow within seconds")
