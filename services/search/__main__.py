"""`python -m services.search [--role all|api|worker]`: `all` (the default) projects the topics and serves
the API in one process; `api` and `worker` split them."""

from services.runtime.service import main
from services.search.wiring import SERVICE

if __name__ == "__main__":
    main(SERVICE)
