"""`python -m services.edge`: Mastodon's client API over HTTP on CHIRP_EDGE_PORT (uvicorn, uvloop, httptools), and
Prometheus metrics beside it (CHIRP_METRICS_PORT, services/runtime/config.py)."""

import uvicorn
from prometheus_client import start_http_server

from services.edge.wiring import application
from services.runtime.bootstrap import settings_and_logging
from services.runtime.grpc_server import SHUTDOWN_GRACE_SECONDS


def main() -> None:
    settings = settings_and_logging()
    if metrics_port := settings.metrics_port_beside(settings.edge_port):
        start_http_server(metrics_port, addr=settings.bind_host)
    uvicorn.run(
        application(settings),
        host=settings.bind_host,
        port=settings.edge_port,
        loop="uvloop",
        http="httptools",
        ws="websockets",
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


if __name__ == "__main__":
    main()
