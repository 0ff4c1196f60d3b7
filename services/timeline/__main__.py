"""`python -m services.timeline [--role all|api|worker]`: `all` (the default) projects the topics and serves reads
in one process; `api` and `worker` split them so that reads and fan-out scale separately."""

from services.runtime.service import main
from services.timeline.wiring import SERVICE

if __name__ == "__main__":
    main(SERVICE)
