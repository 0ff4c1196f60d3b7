"""`python -m services.graph [--role all|api|worker]`: `all` (the default) serves the gRPC API and keeps the
count projection (services/graph/counts.py) in one process; `api` and `worker` split them."""

from services.graph.wiring import SERVICE
from services.runtime.service import main

if __name__ == "__main__":
    main(SERVICE)
