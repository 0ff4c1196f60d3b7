"""`chirp projections rebuild timeline|notifications|search|trends`: replay the log into a new version of a
projection. `chirp projections activate <projection> <version>`: make an earlier version serve again."""

import asyncio
import contextlib
import importlib
from typing import Annotated

import typer

from services.runtime.config import Settings

app = typer.Typer(help="Projections: rebuild one from the log, or go back to an earlier version.", no_args_is_help=True)

# What the command calls each rebuildable projection -> the service whose wiring declares it (imported when used).
REBUILDABLE = {"timeline": "timeline", "notifications": "notification", "search": "search", "trends": "trends"}


def projection_named(name: str):
    """The ProjectionSpec a projection's name stands for."""
    if name not in REBUILDABLE:
        raise typer.BadParameter(f"{name!r} cannot be rebuilt; choose one of {', '.join(REBUILDABLE)}")
    return importlib.import_module(f"services.{REBUILDABLE[name]}.wiring").PROJECTION


@contextlib.asynccontextmanager
async def wiring_of(service: str):
    """A service's wiring module; whatever it opened is closed on exit (the search index: the service reopens it
    for writing)."""
    wiring = importlib.import_module(f"services.{service}.wiring")
    try:
        yield wiring
    finally:
        close = getattr(wiring, "close_backends", None)
        if close is not None:
            await close()


async def _rebuild(settings, name: str, report, replay) -> int:
    async with wiring_of(REBUILDABLE[name]) as wiring:
        return await replay(settings, wiring.PROJECTION, report, print)


@app.command("rebuild")
def rebuild(
    projection: Annotated[str, typer.Argument(help="Which projection: timeline, notifications, search or trends.")],
) -> None:
    """Replay the topics from the beginning into a new version of the tables; when it has caught up, the workers
    stop for a few seconds, it takes over their consumer group (same name) and serves. The old version serves
    until then."""
    from services.cli.render import progress_bar
    from services.runtime.projection.rebuild import rebuild as replay_into_new_version

    projection_named(projection)
    settings = Settings()
    with progress_bar("replaying", "events", with_remaining=True) as report:
        version = asyncio.run(_rebuild(settings, projection, report, replay_into_new_version))
    print(f"{projection} rebuilt as version {version}, which now serves reads; workers follow within seconds")


@app.command("activate")
def activate(
    projection: Annotated[str, typer.Argument(help="Which projection: timeline, notifications, search or trends.")],
    version: Annotated[int, typer.Argument(min=1, help="The version to serve, one that served before.")],
) -> None:
    """Make an earlier version serve again (to go back after a rebuild): the workers stop for a few seconds and
    resume it where it stopped serving, so it catches up with everything published since."""
    from services.runtime.projection.handover import go_back

    spec = projection_named(projection)
    try:
        asyncio.run(go_back(Settings(), spec, version, print))
    except LookupError as error:
        raise typer.BadParameter(str(error)) from None
    print(f"{projection} version {version} serves again; its workers catch up from where it stopped")
