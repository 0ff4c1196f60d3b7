"""A local Prometheus for one machine (`make prometheus`): what it scrapes (every Chirp process this machine's
settings name, at its metrics port) and the production alerts it evaluates (k8s/overlays/production/monitoring.yaml,
the one place they are written)."""

import json
from pathlib import Path

from services.cli.health import WORKERS
from services.cli.launcher import REPO, SERVICES
from services.runtime.config import Settings

ALERTS = REPO / "k8s" / "overlays" / "production" / "monitoring.yaml"


def rule_groups(manifest: Path = ALERTS) -> str:
    """The PrometheusRule's `spec`, which is a Prometheus rules file (`groups:`), as Prometheus and promtool read
    one."""
    document = next(doc for doc in manifest.read_text().split("\n---\n") if "\nkind: PrometheusRule\n" in doc)
    spec = document.split("\nspec:\n", 1)[1]
    return "\n".join(line.removeprefix("  ") for line in spec.splitlines()) + "\n"


def scrape_targets(settings: Settings) -> dict[str, str]:
    """Process -> the address of its /metrics, for every API, worker and the edge (those with metrics on)."""
    ports = {name: settings.port_of(getattr(settings, f"{name}_addr")) for name in SERVICES}
    ports |= {f"{name}-worker": settings.port_of(settings.worker_addr(name)) for name in WORKERS}
    ports["edge"] = settings.edge_port
    return {
        name: f"127.0.0.1:{metrics}" for name, port in ports.items() if (metrics := settings.metrics_port_beside(port))
    }


def prometheus_config(settings: Settings, rules_file: str) -> str:
    """prometheus.yml, as JSON (which is YAML): one job, a target per process labelled with its name."""
    targets = [
        {"targets": [address], "labels": {"process": name}} for name, address in scrape_targets(settings).items()
    ]
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [rules_file],
        "scrape_configs": [{"job_name": "chirp", "static_configs": targets}],
    }
    return json.dumps(config, indent=2) + "\n"
