"""`services/run.sh`, what `make up` runs: a service with a projection is two processes, its API and its worker, as
in k8s/; `chirp status` reports both, and naming the service starts and stops both."""

import asyncio
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from chirp.graph.v1 import graph_pb2
from services.cli.launcher import REPO, System
from services.runtime.config import METRICS_PORT_OFFSET
from services.runtime.kafka import EventPublisher
from services.runtime.topics import GRAPH_EVENTS
from tests.helpers import eventually

pytestmark = pytest.mark.infra


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            return answer.read().decode()
    except OSError:
        return None


def publish_user(settings):
    """A UserCreated on the graph topic, as the graph service would publish it: the timeline worker applies it."""
    user = graph_pb2.User(user_id=4_000_000_001, handle="metered", display_name="Metered")
    event = graph_pb2.GraphEvent(event_id="run-script-metrics", user_created=graph_pb2.UserCreated(user=user))
    event.occurred_at.GetCurrentTime()

    async def run():
        publisher = EventPublisher(settings.kafka_bootstrap, "run-script-test")
        await publisher.start()
        try:
            return await publisher.publish(settings.topic(GRAPH_EVENTS.name), user.user_id, event)
        finally:
            await publisher.stop()

    return asyncio.run(run())


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for whoever adopted it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_projecting_service_runs_as_an_api_process_and_a_worker_process(infrastructure, tmp_path):
    # A System's topics, keyspaces and ports, so nothing a developer's `make up` runs is touched.
    system = System()
    system.setup()
    # Metrics as `make up` has them: on, 1000 above each process's own port.
    env = dict(system.env, CHIRP_DATA_DIR=str(tmp_path), CHIRP_PYTHON=sys.executable, CHIRP_METRICS_PORT="-1")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(REPO / "services" / "run.sh"), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )

    def logs() -> str:
        """What the processes wrote, for a failure to say why one of them exited."""
        return "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in (tmp_path / "logs").glob("*.log"))

    try:
        assert run("start", "timeline").returncode == 0
        pids = {path.stem: int(path.read_text()) for path in (tmp_path / "pids").iterdir()}
        assert set(pids) == {"timeline-api", "timeline-worker"}
        try:
            system.wait_serving(system.settings.timeline_addr, "timeline-api")
            system.wait_serving(system.settings.worker_addr("timeline"), "timeline-worker")
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{logs()}") from error
        assert command_line(pids["timeline-api"])[-3:] == ["services.timeline", "--role", "api"], logs()
        assert command_line(pids["timeline-worker"])[-3:] == ["services.timeline", "--role", "worker"], logs()

        # What the on-call engineer sees: the group's lag per partition and the freshness of what was applied.
        publish_user(system.settings)
        worker_metrics = system.settings.port_of(system.settings.worker_addr("timeline")) + METRICS_PORT_OFFSET
        group = system.settings.consumer_group("timeline")

        last = {"text": ""}

        def caught_up_metrics() -> str | None:
            text = last["text"] = scrape(worker_metrics) or ""
            lags = [
                value
                for labels, value in re.findall(r"chirp_projection_consumer_lag{([^}]*)} (\S+)", text)
                if f'group="{group}"' in labels
            ]
            applied = re.search(r'chirp_projection_event_age_seconds_count{projection="timeline"} (\S+)', text)
            done = len(lags) == 12 and set(lags) == {"0.0"} and applied and float(applied.group(1)) >= 1
            return text if done else None

        try:
            text = eventually(caught_up_metrics, timeout=60, interval=1)
        except AssertionError as error:
            chirp_lines = "\n".join(line for line in last["text"].splitlines() if line.startswith("chirp_"))
            raise AssertionError(f"{error}\nthe worker's metrics:\n{chirp_lines or last['text'][:2000]}") from None
        assert re.search(r'chirp_cassandra_statement_seconds_count{statement="INSERT users"} [1-9]', text), text
        api_metrics = scrape(system.settings.port_of(system.settings.timeline_addr) + METRICS_PORT_OFFSET)
        assert "process_resident_memory_bytes" in api_metrics

        status = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "status", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        components = {row["component"]: row for row in json.loads(status.stdout)}
        assert components["timeline"]["healthy"] and components["timeline-worker"]["healthy"], components
        assert components["timeline-worker"]["address"] == system.settings.timeline_worker_addr
        # Nothing else of this System runs: status says so, and exits 1.
        assert not components["notification-worker"]["healthy"] and status.returncode == 1

        assert run("status", "timeline").returncode == 0
        unknown = run("start", "timelines")
        assert unknown.returncode == 2 and "no service or process 'timelines'" in unknown.stderr
    finally:
        stopped = run("stop", "timeline")
        system.drop_data()
    assert stopped.returncode == 0 and "timeline-api stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert "timeline-worker stopped" in stopped.stdout
    assert run("status", "timeline").returncode == 1
    assert not any(alive(pid) for pid in pids.values())
