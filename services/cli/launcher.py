"""Chirp's services as processes on this machine, beside any system `make up` started: what the integration and
end-to-end tests and the bench run against.

A System gets its own topics, keyspaces and consumer groups (a unique prefix) and its own service processes on
their own ports, so it never touches a system started with `make up`, and every run starts from an empty log.
Kafka and Cassandra are the real servers, run by infra/infra.sh (`infra()` below).
"""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.cli.client import Clients
from services.runtime.config import Settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra" / "infra.sh"
DATA_DIR = Path(os.environ.get("CHIRP_DATA_DIR", REPO / ".data"))
# The services of a System. None needs another to start: each fetches identity's keys and reaches the services it
# calls (post asks graph) on first use.
SERVICES = ("identity", "graph", "post", "timeline", "notification", "search", "trends")
# The services with a projection, whose workers (`--role worker`) serve health on an address of their own.
PROJECTING = ("graph", "timeline", "notification", "search", "trends")
# Served over HTTP, not gRPC: ready when `GET /health` answers 200. Started after the services it calls.
EDGE = "edge"


# Ports free_port handed out in this process: the kernel may offer a port again before its first taker binds it.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and that this process has not handed out before. Fixed ports in the
    ephemeral range can be taken by any outgoing connection."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def infra(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """infra/infra.sh; `env` points it at another instance (CHIRP_DATA_DIR and CHIRP_*_PORT)."""
    return subprocess.run([str(INFRA), *args], cwd=REPO, text=True, capture_output=True, check=check, env=env)


class System:
    """Service processes of one test session or bench run, with the settings and clients that reach them."""

    def __init__(self, base_env: dict | None = None) -> None:
        """`base_env` replaces os.environ as what the processes inherit (another Kafka and Cassandra, say)."""
        prefix = f"t{uuid.uuid4().hex[:8]}"
        self.ports = {name: free_port() for name in SERVICES}
        self.env = {
            **(base_env or os.environ),
            "CHIRP_KEYSPACE_PREFIX": f"chirp_{prefix}",
            "CHIRP_TOPIC_PREFIX": f"{prefix}.",
            "CHIRP_LOG_FORMAT": "json",
            # Its ports are any free ones, and a port 1000 above one of them may be another's: metrics only when
            # a test asks for them.
            "CHIRP_METRICS_PORT": "0",
            **{f"CHIRP_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()},
        }
        self.worker_ports = {name: free_port() for name in PROJECTING}
        self.env |= {
            f"CHIRP_{name.upper()}_WORKER_ADDR": f"127.0.0.1:{port}" for name, port in self.worker_ports.items()
        }
        self.edge_port = free_port()
        self.env["CHIRP_EDGE_PORT"] = str(self.edge_port)
        self.log_dir = DATA_DIR / "logs" / "tests" / prefix
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Its own signing keys and operator credential (made by `chirp admin setup`), removed with its data.
        self.secrets_dir = DATA_DIR / "secrets" / prefix
        self.env |= {
            "CHIRP_SIGNING_KEYS_DIR": str(self.secrets_dir / "keys"),
            "CHIRP_OPERATOR_CREDENTIAL_FILE": str(self.secrets_dir / "operator-credential"),
            # Where `chirp login` keeps a sign-in: never the developer's own.
            "CHIRP_CONFIG_DIR": str(self.secrets_dir / "config"),
            "CHIRP_REGISTRATIONS_OPEN": "true",
            "CHIRP_OAUTH_PASSWORD_GRANT": "true",
            # The search index of this run (tantivy), removed with its data.
            "CHIRP_SEARCH_INDEX_DIR": str(DATA_DIR / "search" / prefix),
        }
        self.settings = Settings(
            **{key.removeprefix("CHIRP_").lower(): value for key, value in self.env.items() if key.startswith("CHIRP_")}
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self._ready_at: dict[str, str] = {}  # label -> the health address or URL that says it is ready
        self.clients = Clients(self.settings)

    def setup(self) -> None:
        """Topics and schemas for this session, through the same command operators use."""
        subprocess.run(
            [sys.executable, "-m", "services.cli.main", "admin", "setup"], env=self.env, cwd=REPO, check=True
        )

    def start(
        self,
        name: str,
        *args: str,
        port: int | None = None,
        label: str | None = None,
        env: dict | None = None,
        timeout: float = 60,
    ) -> subprocess.Popen:
        """Start a service process and wait until it is SERVING (the edge: until /health answers), at most `timeout`
        seconds. `port`, `label` and `env` run an extra instance."""
        label = self.launch(name, *args, port=port, label=label, env=env)
        self.wait_ready(label, timeout)
        return self.processes[label]

    def start_together(self, names: tuple[str, ...], timeout: float = 60) -> None:
        """Start every one of `names` at once, then wait until all are ready: a process importing its libraries
        and connecting to Kafka and Cassandra mostly waits, so side by side they are up in the time of the slowest
        rather than of all in a row. None needs another to start: each reaches the others only when called."""
        for label in [self.launch(name) for name in names]:
            self.wait_ready(label, timeout)

    def launch(
        self, name: str, *args: str, port: int | None = None, label: str | None = None, env: dict | None = None
    ) -> str:
        """Start a service process without waiting for it; its label, for `wait_ready`."""
        label = label or name
        env = dict(self.env, CHIRP_GRPC_PORT=str(port or 0), **(env or {}))
        if name == EDGE:
            if port:
                env["CHIRP_EDGE_PORT"] = str(port)
            self._ready_at[label] = f"http://127.0.0.1:{port or self.edge_port}/health"
        else:
            role = args[args.index("--role") + 1] if "--role" in args else "all"
            defaults = self.worker_ports if role == "worker" else self.ports
            self._ready_at[label] = f"127.0.0.1:{port or defaults[name]}"
        log = open(self.log_dir / f"{label}.log", "ab")
        self.processes[label] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}", *args], env=env, cwd=REPO, stdout=log, stderr=log
        )
        return label

    def wait_ready(self, label: str, timeout: float = 60) -> None:
        """Until the process `label` is SERVING (the edge: until /health answers 200)."""
        target = self._ready_at[label]
        if target.startswith("http://"):
            self.wait_http(target, label, timeout)
        else:
            self.wait_serving(target, label, timeout)

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.edge_port}"

    def wait_http(self, url: str, label: str, timeout: float = 60) -> None:
        """Until `url` answers 200 (the edge's health check)."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(label)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{label} exited with {process.returncode}; see {self.log_dir / (label + '.log')}")
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{label} not answering at {url} after {timeout}s; see {self.log_dir / (label + '.log')}")

    def wait_serving(self, address: str, label: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                process = self.processes.get(label)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(
                        f"{label} exited with {process.returncode}; see {self.log_dir / (label + '.log')}"
                    )
                try:
                    if (
                        stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                        == health_pb2.HealthCheckResponse.SERVING
                    ):
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"{label} not SERVING at {address} after {timeout}s; see {self.log_dir / (label + '.log')}")

    def kill(self, label: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(label)
        process.send_signal(sig)
        process.wait(timeout=60)

    def stop_all(self) -> None:
        """SIGTERM to every process at once, then wait for each (SIGKILL after 30 s): each stops in its own time,
        so together they take the time of the slowest."""
        stopping = [self.processes.pop(label) for label in list(self.processes)]
        for process in stopping:
            process.terminate()
        deadline = time.monotonic() + 30
        for process in stopping:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.clients.close()

    def drop_data(self) -> None:
        """Delete this run's topics, keyspaces and secrets, so test runs do not pile up (empty consumer groups
        expire)."""
        asyncio.run(_drop(self.settings))
        shutil.rmtree(self.secrets_dir, ignore_errors=True)
        shutil.rmtree(self.settings.search_index_dir, ignore_errors=True)


@contextlib.contextmanager
def running_system(base_env: dict | None = None, services: tuple[str, ...] = SERVICES, drop: bool = True):
    """A System with its topics, schemas and `services` running; stopped (and its data dropped) on exit."""
    chirp = System(base_env)
    chirp.setup()
    try:
        chirp.start_together(services)
        yield chirp
    finally:
        chirp.stop_all()
        if drop:
            chirp.drop_data()


async def _drop(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from services.runtime.cassandra import CassandraSession
    from services.runtime.topics import EVERY_TOPIC

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        mine = [settings.topic(spec.name) for spec in EVERY_TOPIC]
        await admin.delete_topics([topic for topic in mine if topic in existing])
    finally:
        await admin.close()
    session = await CassandraSession.connect(settings)
    try:
        keyspaces = [
            row.keyspace_name for row in await session.execute_raw("SELECT keyspace_name FROM system_schema.keyspaces")
        ]
        for keyspace in keyspaces:
            if keyspace.startswith(f"{settings.keyspace_prefix}_"):  # the services' keyspaces and rebuilt versions
                await session.execute_raw(f"DROP KEYSPACE IF EXISTS {keyspace}")
    finally:
        session.shutdown()
    if settings.search_backend == "opensearch":
        from services.search.backends.opensearch_backend import drop_all

        await drop_all(settings)  # the search service's indices, every version
