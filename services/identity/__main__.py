"""`python -m services.identity`: people, their accounts, OAuth 2, and the credentials every service verifies."""

from services.identity.wiring import SERVICE
from services.runtime.service import main

if __name__ == "__main__":
    main(SERVICE)
