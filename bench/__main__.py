"""`python -m bench run [--mode full|quick|smoke] [--users N] [--out DIR]` (`make bench`, `make bench-quick`);
`python -m bench trends` runs the trends phase alone."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown

from bench import report
from bench.scenarios import PLANS, Bench

app = typer.Typer(
    help="Chirp's benchmark harness (issue 6). Needs Kafka and Cassandra running (`make up`).", no_args_is_help=True
)
RESULTS = Path(__file__).resolve().parent / "results"


@app.callback()
def main() -> None:
    """Keep `run` a subcommand, so that more can be added without breaking `python -m bench run`."""


@app.command()
def run(
    mode: Annotated[
        str, typer.Option(help="full (< 15 min), quick (< 3 min) or smoke (seconds, for the test)")
    ] = "full",
    users: Annotated[int | None, typer.Option(help="accounts in the follower graph (default: the mode's)")] = None,
    out: Annotated[
        Path, typer.Option(help="where the results go: latest.{json,md,png} (full), quick.* or smoke.*")
    ] = RESULTS,
    seed: Annotated[int, typer.Option(help="seed of the workload: the same seed draws the same graph and load")] = 1,
    following: Annotated[
        float | None, typer.Option(help="mean accounts each user follows (default: the mode's)")
    ] = None,
    follows_through: Annotated[
        str | None, typer.Option(help="api (FollowUser calls) or log (UserFollowed events imported)")
    ] = None,
    big_followers: Annotated[
        int | None,
        typer.Option(help="followers of the account whose GetUser is timed (default: the mode's; 0 skips it)"),
    ] = None,
    with_notification: Annotated[
        bool,
        typer.Option(
            help="also run the notification service (no goal measures it; it takes CPU the others would have)"
        ),
    ] = False,
    profile: Annotated[
        bool, typer.Option(help="py-spy CPU profiles of the services per phase, into OUT/profiles")
    ] = False,
    notification_likes: Annotated[
        int | None, typer.Option(help="likes of the post whose author's notifications are listed (default: the mode's)")
    ] = None,
) -> None:
    """Start a private Chirp, populate it, measure every phase and the baselines, write the results."""
    if mode not in PLANS:
        raise typer.BadParameter(f"{mode!r}: choose one of {', '.join(PLANS)}")
    chosen = (
        ("users", users),
        ("mean_following", following),
        ("follows_through", follows_through),
        ("notification_likes", notification_likes),
        ("big_followers", big_followers),
    )
    plan = replace(PLANS[mode], **{k: v for k, v in chosen if v is not None})
    bench = Bench(plan, mode, out, seed, profile, with_notification)
    name = "latest" if mode == "full" else mode
    try:
        results = bench.run()
    except BaseException:
        # A phase failed: what the phases before it measured is still worth keeping.
        out.mkdir(parents=True, exist_ok=True)
        partial = out / f"{name}.partial.json"
        partial.write_text(json.dumps(bench.results, indent=2, default=str))
        Console().print(f"the run failed; what it measured before is in {partial}")
        raise
    paths = report.write(results, out, name)
    console = Console()
    console.print(Markdown(paths["md"].read_text()))
    console.print(f"written: {', '.join(str(p) for p in paths.values())}")


@app.command("search-backends")
def search_backends(
    posts: Annotated[int, typer.Option(help="synthetic posts in each backend's index")] = 1_000_000,
    people: Annotated[int, typer.Option(help="synthetic people in each backend's people index")] = 100_000,
    backends: Annotated[str, typer.Option(help="comma-separated, measured in this order")] = "tantivy,opensearch",
    out: Annotated[Path, typer.Option(help="where search-backends.{json,md} go")] = RESULTS,
) -> None:
    """The search phase's in-process steps (raw add rate building the index, query and typeahead latency) on each
    backend in turn, on the same data: OpenSearch at CHIRP_OPENSEARCH_URL (make up SEARCH=opensearch). No services."""
    import asyncio
    import json

    from bench.search import compare_backends, compare_table
    from services.runtime.config import Settings

    names = [name.strip() for name in backends.split(",") if name.strip()]
    figures = asyncio.run(compare_backends(names, posts, people, Settings()))
    out.mkdir(parents=True, exist_ok=True)
    (out / "search-backends.json").write_text(json.dumps(figures, indent=2) + "\n")
    table = compare_table(figures)
    (out / "search-backends.md").write_text(table)
    Console().print(Markdown(table))


@app.command("trends")
def trends_alone(
    out: Annotated[Path, typer.Option(help="where trends.json goes")] = RESULTS,
    spike_seconds: Annotated[float, typer.Option(help="the 20 accounts post over this long")] = 20.0,
    puppet_seconds: Annotated[float, typer.Option(help="the 500 sockpuppets post over this long")] = 40.0,
) -> None:
    """The trends phase of `run` alone, on a private identity and trends service (bench/trends.py)."""
    import asyncio
    import json

    from bench import trends
    from services.cli.launcher import System

    system = System()
    settings = trends.trends_settings(system.settings)
    try:
        system.setup()
        asyncio.run(trends.prepare(settings))
        system.start("identity")
        system.start("trends", env=trends.env_of(settings))
        figures = asyncio.run(
            trends.measure(settings, system.settings.trends_addr, spike_seconds, puppet_seconds, Console().log)
        )
    finally:
        system.stop_all()
        system.drop_data()
        asyncio.run(trends.drop_topics(settings))
    out.mkdir(parents=True, exist_ok=True)
    (out / "trends.json").write_text(json.dumps(figures, indent=2) + "\n")
    Console().print_json(json.dumps(figures))
    for goal in report.trends_goals({"trends": figures}):
        Console().print(f"{goal['goal']}: {goal['value']:g} ({goal['target']}): {'met' if goal['met'] else 'NOT MET'}")


@app.command("report")
def report_again(
    results: Annotated[Path, typer.Argument(help="a results file, e.g. bench/results/latest.json")],
) -> None:
    """Write the markdown table and the chart again from a results file, and print the table."""
    paths = report.rewrite(results)
    Console().print(Markdown(paths["md"].read_text()))


if __name__ == "__main__":
    app()
