"""Use cases of the identity service."""

from services.identity.domain import matches
from services.identity.repository import IdentityRepository
from services.runtime.credentials import Caller, Kind, SigningKeys
from services.runtime.errors import Unauthenticated


class IdentityService:
    def __init__(self, repo: IdentityRepository, keys: SigningKeys) -> None:
        self._repo = repo
        self._keys = keys

    def signing_keys(self) -> str:
        return self._keys.public_jwks()

    async def operator_credential(self, secret: str, user_id: int) -> tuple[str, int]:
        """(a credential for the operator, acting as `user_id` or no one; its expiry in Unix seconds)."""
        if not matches(secret, await self._repo.operator_secret_hash()):
            raise Unauthenticated("OPERATOR_SECRET_INVALID", "that is not this deployment's operator secret")
        return self._keys.sign(Caller(Kind.OPERATOR, user_id=user_id))
