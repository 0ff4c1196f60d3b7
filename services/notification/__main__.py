"""`python -m services.notification [--role all|api|worker]`: `all` (the default) projects the topics and serves
the API in one process; `api` and `worker` split them."""

from services.notification.wiring import SERVICE
from services.runtime.service import main

if __name__ == "__main__":
    main(SERVICE)
