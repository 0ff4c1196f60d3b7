"""`chirp deadletters list|replay`: the records projections set aside (chirp.deadletter.v1), and applying them
again once what made them fail is fixed."""

import asyncio
import json
import re
from typing import Annotated

import typer

from services.cli import render
from services.cli.common import Json
from services.cli.launcher import PROJECTING
from services.cli.projection_commands import wiring_of
from services.runtime.config import Settings

app = typer.Typer(help="Dead letters: what projections set aside, and replaying it.", no_args_is_help=True)

Projection = Annotated[
    str | None, typer.Option("--projection", help=f"Only this projection's: {', '.join(PROJECTING)}.")
]
Offsets = Annotated[
    list[int] | None, typer.Option("--offset", help="Only the dead letter at this offset (repeatable).")
]


def projection_of(letter) -> str:
    """The projection a letter belongs to: a rebuild's (`timeline-v2`) is its projection's."""
    return re.sub(r"-v\d+$", "", letter.projection)


def chosen(settings: Settings, projection: str | None, offsets: list[int] | None) -> list:
    from services.runtime.projection.dead_letters import read_dead_letters

    if projection is not None and projection not in PROJECTING:
        raise typer.BadParameter(f"{projection!r} is not a projection; choose one of {', '.join(PROJECTING)}")
    letters = asyncio.run(read_dead_letters(settings))
    return [
        letter
        for letter in letters
        if (projection is None or projection_of(letter) == projection) and (not offsets or letter.offset in offsets)
    ]


def letter_dict(letter) -> dict:
    record = letter.record
    return {
        "offset": letter.offset,
        "time": letter.time.isoformat().replace("+00:00", "Z"),
        "projection": letter.projection,
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "key": record.key.decode(errors="replace") if record.key else None,
        "error": letter.error,
    }


@app.command("list")
def list_(projection: Projection = None, offset: Offsets = None, json_: Json = False) -> None:
    """The dead letters, oldest first: where each came from and why it failed."""
    from rich.table import Table

    letters = [letter_dict(letter) for letter in chosen(Settings(), projection, offset)]
    if json_:
        print(json.dumps(letters, indent=2))
        return
    table = Table(title="dead letters")
    for column in ("offset", "when", "projection", "from", "error"):
        table.add_column(column)
    for letter in letters:
        source = letter["source"]
        table.add_row(
            str(letter["offset"]),
            letter["time"][:19].replace("T", " "),
            letter["projection"],
            f"{source['topic']}:{source['partition']}@{source['offset']}",
            letter["error"],
        )
    render.console.print(table if letters else "[dim]no dead letters[/dim]")


@app.command("replay")
def replay(projection: Projection = None, offset: Offsets = None) -> None:
    """Apply the dead letters again, each to its projection's serving version, one at a time. Applying is
    idempotent, so a letter replayed twice changes nothing; the letters stay in the topic. Exit status 1 when any
    still fails."""
    from services.runtime.projection.dead_letters import replay_dead_letters

    settings = Settings()
    letters = chosen(settings, projection, offset)
    by_projection: dict[str, list] = {}
    for letter in letters:
        by_projection.setdefault(projection_of(letter), []).append(letter)

    async def replay_to(name: str, group: list) -> list:
        async with wiring_of(name) as wiring:
            return await replay_dead_letters(settings, wiring.SERVICE.projection, group)

    failed = 0
    for name, group in by_projection.items():
        for letter, error in zip(group, asyncio.run(replay_to(name, group)), strict=True):
            if error is None:
                print(f"{letter.offset}: applied to {name}")
            else:
                failed += 1
                print(f"{letter.offset}: {name} failed again: {error!r}")
    print(f"{len(letters) - failed} of {len(letters)} dead letters applied")
    if failed:
        raise typer.Exit(1)
