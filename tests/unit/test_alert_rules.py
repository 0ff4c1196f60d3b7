"""The production alerts (k8s/overlays/production/monitoring.yaml) fire when they should and only then, checked
with Prometheus's own promtool against the series the services export (alert_rules.promtool.yaml)."""

import shutil
import subprocess
from pathlib import Path

from services.cli.monitoring import rule_groups

CASES = Path(__file__).with_name("alert_rules.promtool.yaml")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make require` installs it (Debian package prometheus)"
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_rules_are_valid_and_each_alert_fires_on_its_cases_only(tmp_path):
    (tmp_path / "rules.yaml").write_text(rule_groups())
    shutil.copy(CASES, tmp_path / "cases.yaml")
    checked = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "cases.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


DASHBOARD = Path(__file__).resolve().parents[2] / "k8s" / "overlays" / "production" / "chirp-dashboard.json"


def exported_series() -> set[str]:
    """Every series name Chirp's processes can export, from the metrics its modules declare."""
    import importlib

    from prometheus_client import REGISTRY

    for module in (
        "services.runtime.cassandra",
        "services.runtime.grpc_server",
        "services.runtime.projection.consumer",
        "services.runtime.projection.lag",
        "services.runtime.projection.runner",
        "services.timeline.api",
        "services.timeline.projection",
    ):
        importlib.import_module(module)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {family.name + suffix for family in REGISTRY.collect() for suffix in suffixes.get(family.type, ("",))}


def test_every_dashboard_query_parses_and_reads_only_series_chirp_exports(tmp_path):
    import json
    import re

    queries = [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]
    named = {name for query in [*queries, rule_groups()] for name in re.findall(r"\bchirp_[a-z0-9_]+", query)}
    assert named and named <= exported_series(), named - exported_series()
    # promtool parses PromQL in rule files: each query as a recording rule.
    rules = {
        "groups": [{"name": "dashboard", "rules": [{"record": f"q{i}", "expr": q} for i, q in enumerate(queries)]}]
    }
    (tmp_path / "queries.yaml").write_text(json.dumps(rules))
    checked = promtool("check", "rules", "queries.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
