"""`chirp text`: Chirp's text rules on the command line, with no server: `chirp text analyze < texts.jsonl`."""

import json
import sys
from typing import Annotated

import typer

from services.text import Profile, analyze as analyze_text

app = typer.Typer(help="Text rules, without any server.")


@app.callback()
def text() -> None:
    """Text rules, without any server."""  # a group even with one command, so that `analyze` stays a subcommand


@app.command()
def analyze(
    profile: Annotated[
        Profile,
        typer.Option(
            "--profile", case_sensitive=False, help="classic: 140, all count 1; weighted: 280, CJK and emoji count 2."
        ),
    ] = Profile.CLASSIC,
) -> None:
    """Read lines of standard input, each a JSON string; write one JSON object per line: weighted_length, valid,
    mentions, hashtags, urls and cashtags (offsets in code points of the NFC-normalized text).

    A line that is not a JSON string gets an error on stderr naming it; the exit status is then 1, at the end."""
    failed = False
    out = sys.stdout.buffer
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            value = json.loads(raw.decode("utf-8"))
            reason = None if isinstance(value, str) else "not a JSON string"
        except UnicodeDecodeError:
            reason = "not UTF-8"
        except json.JSONDecodeError as error:
            reason = f"not JSON ({error.msg} at column {error.colno})"
        if reason:
            print(f"error: line {number}: {reason}", file=sys.stderr)
            failed = True
            continue
        out.write(_dumps(analyze_text(value, profile).as_json()).encode("utf-8") + b"\n")
    out.flush()
    if failed:
        raise typer.Exit(1)


def _dumps(result: dict) -> str:
    written = json.dumps(result, ensure_ascii=False)
    try:
        written.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a "\ud800" escape) cannot be written as UTF-8: escape it
        written = json.dumps(result, ensure_ascii=True)
    return written
