"""Health of every component, for `chirp status`."""

import asyncio

from services.cli.client import Clients
from services.cli.launcher import SERVICES
from services.runtime.config import Settings

# The projections that run apart from their APIs (services/run.sh, k8s/). Search on tantivy projects inside its API
# process: its index has one writer.
WORKERS = ("graph", "timeline", "notification", "trends")


def check_all(settings: Settings) -> list[tuple[str, str, bool, str]]:
    """(component, address, healthy, status) for Kafka, Cassandra, the services, their workers and the HTTP edge."""
    results = [
        ("kafka", settings.kafka_bootstrap, *_kafka(settings)),
        ("cassandra", f"{settings.cassandra_hosts}:{settings.cassandra_port}", *_cassandra(settings)),
    ]
    clients = Clients(settings)
    components = [(name, getattr(settings, f"{name}_addr")) for name in SERVICES]
    # An empty worker address: that projection runs inside its API's process (k8s/base/config.env).
    components += [(f"{name}-worker", settings.worker_addr(name)) for name in WORKERS if settings.worker_addr(name)]
    for name, address in components:
        state = clients.health(address)
        results.append((name, address, state == "SERVING", state))
    clients.close()
    edge = settings.edge_public_url.rstrip("/") or f"http://127.0.0.1:{settings.edge_port}"
    results.append(("edge", edge, *_edge(edge)))
    return results


def _edge(url: str) -> tuple[bool, str]:
    """The edge is HTTP: healthy when GET /health answers 200."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as answer:
            return answer.status == 200, f"up (HTTP {answer.status})"
    except urllib.error.HTTPError as error:
        return False, f"HTTP {error.code}"
    except OSError as error:
        return False, f"unreachable ({type(error).__name__})"


def _kafka(settings: Settings) -> tuple[bool, str]:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=3000)
        await admin.start()
        try:
            return len(await admin.list_topics())
        finally:
            await admin.close()

    try:
        topics = asyncio.run(asyncio.wait_for(probe(), 5))
        return True, f"up ({topics} topics)"
    except Exception as error:
        return False, f"unreachable ({type(error).__name__})"


def _cassandra(settings: Settings) -> tuple[bool, str]:
    from cassandra.cluster import Cluster

    cluster = Cluster(
        [h.strip() for h in settings.cassandra_hosts.split(",")], port=settings.cassandra_port, connect_timeout=3
    )
    try:
        session = cluster.connect()
        version = session.execute("SELECT release_version FROM system.local").one().release_version
        return True, f"up (Cassandra {version})"
    except Exception as error:
        return False, f"unreachable ({type(error).__name__})"
    finally:
        cluster.shutdown()
