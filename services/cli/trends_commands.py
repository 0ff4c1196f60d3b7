"""`chirp trends [--kind tags|links|posts] [--lang xx] [--as HANDLE] [--json]`: what is trending, and why."""

from typing import Annotated

import typer

from chirp.trends.v1 import trends_pb2
from chirp.trends.v1 import trends_service_pb2 as pb
from services.cli import render
from services.cli.common import Json, acting, call, clients

app = typer.Typer(help="Trending hashtags, links and posts.", invoke_without_command=True)

KINDS = {
    "tags": trends_pb2.TREND_KIND_HASHTAG,
    "links": trends_pb2.TREND_KIND_LINK,
    "posts": trends_pb2.TREND_KIND_POST,
}


def trend_dict(trend: trends_pb2.Trend) -> dict:
    return {
        "kind": trends_pb2.TrendKind.Name(trend.kind).removeprefix("TREND_KIND_").lower(),
        "term": trend.term,
        "language": trend.language or None,
        "score": round(trend.score, 2),
        "trending_since": render.iso(trend.trending_since),
        "accounts": trend.account_count,
        "posts": trend.post_count,
        "weighted_accounts": round(trend.weighted_accounts, 2),
        "baseline_accounts": round(trend.baseline_accounts, 2),
        "reason": trend.reason,
        "samples": [
            {"id": str(s.post_id), "author": s.author_handle, "text": s.text, "created_at": render.iso(s.create_time)}
            for s in trend.samples
        ],
        "history": [
            {"day": render.iso(day.day)[:10], "accounts": day.accounts, "uses": day.uses} for day in trend.history
        ],
    }


def _label(trend: dict) -> str:
    if trend["kind"] == "hashtag":
        return f"#{trend['term']}"
    if trend["kind"] == "post":
        return f"post {trend['term']}"
    return trend["term"]


@app.callback()
def trends(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option("--kind", help="tags, links or posts.")] = "tags",
    lang: Annotated[str, typer.Option("--lang", help="A language's trends (it, ru, es, fr, en, de, pt, ja).")] = "",
    as_: Annotated[
        str, typer.Option("--as", help="As this account sees them: the accounts it blocks or mutes count for nothing.")
    ] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=20, help="How many trends.")] = 10,
    json_: Json = False,
) -> None:
    """What trends now: terms used by far more accounts in the last hour than usual at this hour."""
    if ctx.invoked_subcommand is not None:
        return
    if kind not in KINDS:
        raise typer.BadParameter(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    c = clients()
    if as_:
        request = pb.ListReaderTrendsRequest(user_id=acting(c, as_), kind=KINDS[kind], language=lang, page_size=limit)
        found = call(c.trends.ListReaderTrends, request).trends
    else:
        found = call(c.trends.ListTrends, pb.ListTrendsRequest(kind=KINDS[kind], language=lang, page_size=limit)).trends
    items = [trend_dict(trend) for trend in found]
    if json_:
        render.print_json(items)
        return
    from rich.table import Table

    scope = f" in {lang}" if lang else ""
    title = f"trending {kind}{scope}" + (f" for @{as_.removeprefix('@')}" if as_ else "")
    if not items:
        render.console.print(f"[dim]{title}: nothing trends right now[/dim]")
        return
    table = Table(title=title)
    for column in ("", "trend", "since", "accounts", "why", "for example"):
        table.add_column(column)
    for rank, item in enumerate(items, 1):
        sample = item["samples"][0] if item["samples"] else None
        table.add_row(
            str(rank),
            _label(item),
            item["trending_since"][11:16] + " UTC",
            str(item["accounts"]),
            item["reason"],
            f"@{sample['author']}: {sample['text']}" if sample else "",
        )
    render.console.print(table)
