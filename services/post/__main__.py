"""`python -m services.post`: the post service's gRPC API."""

from services.post.wiring import SERVICE
from services.runtime.service import main

if __name__ == "__main__":
    main(SERVICE)
