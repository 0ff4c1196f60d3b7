"""`python -m services.trends [--role all|api|worker]`: `all` (the default) projects the topics and serves reads
in one process; `api` and `worker` split them so that reads and the projection scale separately."""

from services.runtime.service import main
from services.trends.wiring import SERVICE

if __name__ == "__main__":
    main(SERVICE)
