"""`services/run.sh`, what `make up` runs: a service with a projection is two processes, its API and its worker, as
in k8s/; `chirp status` reports both, and naming the service starts and stops both."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.launcher import REPO, System

pytestmark = pytest.mark.infra


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]


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
    env = dict(system.env, CHIRP_DATA_DIR=str(tmp_path), CHIRP_PYTHON=sys.executable)

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
