"""`chirp text`: Chirp's text rules on the command line, with no server: `chirp text analyze < texts.txt`."""

import json
import sys
from typing import Annotated, Literal

import typer

app = typer.Typer(help="Text rules, without any server.")

# How a line of standard input holds its text.
InputFormat = Literal["auto", "plain", "json"]


@app.callback()
def text() -> None:
    """Text rules, without any server."""  # a group even with one command, so that `analyze` stays a subcommand


@app.command()
def analyze(
    profile: Annotated[
        Literal["classic", "weighted"],
        typer.Option(
            "--profile", case_sensitive=False, help="classic: 140, all count 1; weighted: 280, CJK and emoji count 2."
        ),
    ] = "classic",
    input_format: Annotated[
        InputFormat,
        typer.Option(
            "--input",
            help="plain: each line is a text; json: each line is a JSON string (for texts with line breaks); "
            "auto: a line that is a JSON string is read as one, any other line as plain text.",
        ),
    ] = "auto",
) -> None:
    """Read texts from standard input, one a line; write one JSON object per line: weighted_length, valid,
    mentions, hashtags, urls and cashtags (offsets in code points of the NFC-normalized text).

    A line that cannot be read (not UTF-8, or not a JSON string with --input json) gets an error on stderr naming
    it; the exit status is then 1, at the end."""
    from services.text import Profile
    from services.text import analyze as analyze_text

    rules = Profile(profile)
    failed = False
    out = sys.stdout.buffer
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        value, reason = _text_of(raw, input_format)
        if reason:
            print(f"error: line {number}: {reason}", file=sys.stderr)
            failed = True
            continue
        out.write(_dumps(analyze_text(value, rules).as_json()).encode("utf-8") + b"\n")
    out.flush()
    if failed:
        raise typer.Exit(1)


def _text_of(raw: bytes, input_format: InputFormat) -> tuple[str, str | None]:
    """(the line's text, None) or ("", why it cannot be read)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "", "not UTF-8"
    plain = line.removesuffix("\n").removesuffix("\r")
    if input_format == "plain":
        return plain, None
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        if input_format == "auto":
            return plain, None
        return "", f"not JSON ({error.msg} at column {error.colno}); use --input plain for plain text"
    if isinstance(value, str):
        return value, None
    if input_format == "auto":
        return plain, None
    return "", "not a JSON string; use --input plain for plain text"


def _dumps(result: dict) -> str:
    written = json.dumps(result, ensure_ascii=False)
    try:
        written.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a "\ud800" escape) cannot be written as UTF-8: escape it
        written = json.dumps(result, ensure_ascii=True)
    return written
