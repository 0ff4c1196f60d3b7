"""`chirp status` and `chirp admin setup`: operators' view of the whole system and its one-time setup."""

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from services.cli import render
from services.cli.common import Json
from services.runtime.config import Settings

app = typer.Typer()
admin_app = typer.Typer(help="Operations: topics and schemas.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

# Every service's keyspace, migrated by `chirp admin setup`.
SERVICES = ("identity", "graph", "post", "timeline", "notification", "search", "trends")


@app.command()
def status(
    wait: Annotated[float, typer.Option(help="Keep checking up to this many seconds until all are healthy.")] = 0,
    json_: Json = False,
) -> None:
    """Every component and its health. Exit status 0 only when all are healthy."""
    from services.cli.health import check_all

    settings = Settings()
    deadline = time.monotonic() + wait
    while True:
        results = check_all(settings)
        healthy = all(ok for _, _, ok, _ in results)
        if healthy or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if json_:
        rows = [{"component": n, "address": a, "healthy": ok, "status": s} for n, a, ok, s in results]
        print(json.dumps(rows, indent=2))
    else:
        from rich.table import Table

        table = Table(title="Chirp")
        for column in ("component", "address", "status"):
            table.add_column(column)
        for name, address, ok, state in results:
            table.add_row(name, address, f"[green]{state}[/green]" if ok else f"[red]{state}[/red]")
        render.console.print(table)
    raise typer.Exit(0 if healthy else 1)


@admin_app.command("setup")
def admin_setup() -> None:
    """Create missing topics, apply pending schema migrations of every service, and create the identity service's
    signing key and the operator's credential (owner-only files) when there are none. Safe to repeat."""
    from services.identity import admin as identity_admin
    from services.runtime.logging import configure_logging
    from services.runtime.schema import migrate
    from services.runtime.topics import ensure_topics

    settings = Settings()
    configure_logging("console", "WARNING")

    async def run() -> None:
        created = await ensure_topics(settings)
        print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
        for service in SERVICES:
            applied = await migrate(settings, service, f"services.{service}.schema")
            print(f"schema {settings.keyspace(service)}: " + (f"applied {applied}" if applied else "up to date"))
        kid = identity_admin.ensure_signing_key(settings)
        print(f"signing key: {'created ' + kid if kid else 'present'} in {settings.signing_keys_dir}")
        created = await identity_admin.ensure_operator_credential(settings)
        print(f"operator credential: {'written to' if created else 'kept in'} {settings.operator_credential_file}")

    asyncio.run(run())


@admin_app.command("prometheus-config")
def prometheus_config(
    directory: Annotated[Path, typer.Argument(help="Where to write prometheus.yml and chirp-rules.yml.")],
) -> None:
    """Write a Prometheus configuration that scrapes every Chirp process of this machine (its metrics port) and
    evaluates the production alerts: what `make prometheus` runs Prometheus with."""
    from services.cli.monitoring import prometheus_config, rule_groups

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "chirp-rules.yml").write_text(rule_groups())
    (directory / "prometheus.yml").write_text(prometheus_config(Settings(), "chirp-rules.yml"))
    print(f"wrote {directory / 'prometheus.yml'} and {directory / 'chirp-rules.yml'}")


@admin_app.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Create a new signing key for the identity service: it signs within 30 s (the service reloads the directory);
    older keys keep verifying until their files are removed (after at least a credential's lifetime, 5 minutes)."""
    from services.identity import admin as identity_admin

    print(f"signing key {identity_admin.rotate_signing_key(Settings())} created in {Settings().signing_keys_dir}")
