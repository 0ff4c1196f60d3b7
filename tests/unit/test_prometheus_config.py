"""`make prometheus` scrapes each process at the metrics port it serves by default: 1000 above its own."""

import json
import os

import pytest

from services.cli.monitoring import prometheus_config, scrape_targets
from services.runtime.config import Settings


@pytest.fixture(autouse=True)
def defaults(monkeypatch):
    """The settings' defaults, whatever CHIRP_* variables this process was started with."""
    for name in [name for name in os.environ if name.startswith("CHIRP_")]:
        monkeypatch.delenv(name)


def test_every_process_is_scraped_1000_above_its_own_port():
    targets = scrape_targets(Settings())
    assert targets["graph"] == "127.0.0.1:51051" and targets["graph-worker"] == "127.0.0.1:51061"
    assert targets["timeline"] == "127.0.0.1:51053" and targets["timeline-worker"] == "127.0.0.1:51063"
    assert targets["edge"] == "127.0.0.1:9080"
    assert set(targets) >= {"identity", "post", "notification", "search", "trends", "notification-worker"}


def test_metrics_turned_off_are_not_scraped_and_a_fixed_port_is_used_as_set():
    assert scrape_targets(Settings(metrics_port=0)) == {}
    config = json.loads(prometheus_config(Settings(metrics_port=9999), "rules.yml"))
    assert {target for group in config["scrape_configs"][0]["static_configs"] for target in group["targets"]} == {
        "127.0.0.1:9999"
    }
    assert config["rule_files"] == ["rules.yml"]
