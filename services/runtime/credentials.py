"""Credentials: the short-lived JWTs the identity service signs and every service verifies before it acts.

A credential names who a call acts for (a `Caller`): a person through one of their accounts (possibly through an
app, with that app's scopes), an app on its own, the operator, or a service. It is signed with Ed25519 (EdDSA;
`alg` "Ed25519", RFC 9864's name for it) by a key only the identity service holds; services hold the public keys
(a JWK set fetched from the identity service) and accept no other algorithm, so `alg=none` or a key of their own
making is refused. It lives LIFETIME_SECONDS: a revoked access token stops minting new ones at once, and a
credential already out dies within that time.
"""

import asyncio
import base64
import enum
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from services.runtime import scopes as oauth_scopes
from services.runtime.errors import Unauthenticated, Unavailable

log = structlog.get_logger(__name__)

ISSUER = "chirp-identity"
AUDIENCE = "chirp"
ALGORITHM = "Ed25519"
LIFETIME_SECONDS = 300
# Where a call carries its credential: `authorization: Bearer <jwt>` in the gRPC metadata.
METADATA_KEY = "authorization"
# A verifier asks for the keys again after this long, and at most this often when it meets an unknown key id.
KEYS_REFRESH_SECONDS = 60.0
UNKNOWN_KEY_RETRY_SECONDS = 5.0
# A verifier remembers this many credentials it verified, each until it expires, so that a credential's signature is
# checked once and not on every call that carries it (an Ed25519 check and the claims cost about 0.2 ms of CPU, as
# much as some calls' own work). Past it the expired ones go, then all of them.
MAX_VERIFIED = 20_000


class Kind(enum.Enum):
    USER = "user"
    APP = "app"
    OPERATOR = "operator"
    SERVICE = "service"


@dataclass(frozen=True)
class Caller:
    """Who a call acts for, as its credential proves."""

    kind: Kind
    person_id: int = 0
    # The account the call acts for; 0 for none.
    user_id: int = 0
    client_id: str = ""
    scopes: frozenset[str] = field(default_factory=frozenset)
    # For Kind.SERVICE: which service.
    service: str = ""

    def acts_for(self, user_id: int) -> bool:
        """Whether the credential grants acting as `user_id` (the operator may act as anyone)."""
        return self.kind is Kind.OPERATOR or (self.kind is Kind.USER and self.user_id == user_id != 0)

    def may(self, scope: str) -> bool:
        """Whether the credential's scopes allow `scope`; the operator and services are not scoped."""
        return self.kind in (Kind.OPERATOR, Kind.SERVICE) or oauth_scopes.covers(self.scopes, scope)

    def describe(self) -> str:
        """For logs and error messages: never the credential itself."""
        if self.kind is Kind.USER:
            return f"user {self.user_id}" + (f" through app {self.client_id}" if self.client_id else "")
        if self.kind is Kind.APP:
            return f"app {self.client_id}"
        if self.kind is Kind.SERVICE:
            return f"service {self.service}"
        return "the operator" + (f" acting as user {self.user_id}" if self.user_id else "")


def claims_of(caller: Caller, now: float, lifetime: int = LIFETIME_SECONDS) -> dict:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(caller.user_id) if caller.user_id else "",
        "kind": caller.kind.value,
        "pid": caller.person_id,
        "cid": caller.client_id,
        "scope": " ".join(sorted(caller.scopes)),
        "svc": caller.service,
        "iat": int(now),
        "exp": int(now) + lifetime,
        "jti": secrets.token_urlsafe(12),
    }


def caller_of(claims: dict) -> Caller:
    """The caller a verified credential's claims name; Unauthenticated when they are not ones identity signs."""
    try:
        return Caller(
            kind=Kind(claims["kind"]),
            person_id=int(claims.get("pid") or 0),
            user_id=int(claims["sub"]) if claims.get("sub") else 0,
            client_id=str(claims.get("cid") or ""),
            scopes=oauth_scopes.parse(str(claims.get("scope") or "")),
            service=str(claims.get("svc") or ""),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise Unauthenticated("CREDENTIAL_INVALID", "the credential's claims are not ones Chirp issues") from error


class SigningKeys:
    """The identity service's Ed25519 private keys: one PEM file a key in a directory, named `<kid>.pem`. The
    newest (by name: kids start with their UTC creation time) signs; every key in the directory verifies, so a key
    rotated out keeps working for credentials it signed until its file is removed."""

    def __init__(self, keys: list[OKPKey]) -> None:
        if not keys:
            raise ValueError("no signing key: create one with `chirp admin rotate-signing-key`")
        self._keys = sorted(keys, key=lambda key: key.kid or "")

    @classmethod
    def load(cls, directory: Path) -> "SigningKeys":
        keys = [
            OKPKey.import_key(path.read_bytes(), parameters={"kid": path.stem})
            for path in sorted(directory.glob("*.pem"))
        ]
        return cls(keys)

    @staticmethod
    def generate(directory: Path) -> str:
        """A new key in `directory` (created owner-only), which signs from the next load on. Returns its kid."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        kid = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
        path = directory / f"{kid}.pem"
        path.touch(mode=0o600)
        path.write_bytes(OKPKey.generate_key("Ed25519").as_pem(private=True))
        return kid

    def sign(self, caller: Caller, now: float | None = None, lifetime: int = LIFETIME_SECONDS) -> tuple[str, int]:
        """(the credential, when it expires in Unix seconds)."""
        claims = claims_of(caller, time.time() if now is None else now, lifetime)
        key = self._keys[-1]
        token = jwt.encode({"alg": ALGORITHM, "kid": key.kid}, claims, key, algorithms=[ALGORITHM])
        return token, claims["exp"]

    def public_jwks(self) -> str:
        return json.dumps(KeySet([OKPKey.import_key(key.as_dict(private=False)) for key in self._keys]).as_dict())


_CLAIMS = jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": ISSUER},
    aud={"essential": True, "value": AUDIENCE},
    exp={"essential": True},
    kind={"essential": True},
)


class CredentialVerifier:
    """Verifies credentials with the identity service's public keys, fetched by `fetch_jwks` and refreshed."""

    def __init__(self, fetch_jwks: Callable[[], Awaitable[str]], clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch_jwks
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        # Credential -> (its caller, its expiry in Unix seconds, the key id that signed it).
        self._verified: dict[str, tuple[Caller, float, str]] = {}

    async def verify(self, credential: str) -> Caller:
        """The caller a credential names; Unauthenticated for anything not signed by identity, expired, or not a
        credential at all; Unavailable when the keys cannot be had. A credential verified before is answered from
        memory while it has not expired and the key that signed it is still one of identity's."""
        keys = await self._key_set(refresh=False)
        known = self._verified.get(credential)
        if known is not None:
            caller, expires, kid = known
            if self._clock() < expires and kid in _kids(keys):
                return caller
            del self._verified[credential]
        kid = _key_id_of(credential)
        if kid not in _kids(keys):
            keys = await self._key_set(refresh=True)  # perhaps a key rotated in since the last fetch
            if kid not in _kids(keys):
                raise Unauthenticated("CREDENTIAL_INVALID", "the credential is signed by a key Chirp does not know")
        try:
            token = jwt.decode(credential, keys, algorithms=[ALGORITHM])
            _CLAIMS.validate(token.claims)
        except JoseError as error:
            raise Unauthenticated("CREDENTIAL_INVALID", f"the credential is not valid ({error.error})") from error
        caller = caller_of(token.claims)
        self._remember(credential, (caller, float(token.claims["exp"]), kid))
        return caller

    def _remember(self, credential: str, verified: tuple[Caller, float, str]) -> None:
        if len(self._verified) >= MAX_VERIFIED:
            now = self._clock()
            self._verified = {key: kept for key, kept in self._verified.items() if kept[1] > now}
            if len(self._verified) >= MAX_VERIFIED:
                self._verified.clear()
        self._verified[credential] = verified

    async def _key_set(self, refresh: bool) -> KeySet:
        """The keys: fetched again when older than KEYS_REFRESH_SECONDS, or, on `refresh` (an unknown key id),
        when older than UNKNOWN_KEY_RETRY_SECONDS. A failed fetch keeps the keys already had."""
        age = time.monotonic() - self._fetched_at
        if self._keys is not None and age < (UNKNOWN_KEY_RETRY_SECONDS if refresh else KEYS_REFRESH_SECONDS):
            return self._keys
        async with self._lock:
            if time.monotonic() - self._fetched_at >= age:  # nobody fetched while this call waited for the lock
                try:
                    self._keys = KeySet.import_key_set(json.loads(await self._fetch()))
                    self._fetched_at = time.monotonic()
                except Exception as error:
                    if self._keys is None:
                        raise Unavailable(
                            "IDENTITY_UNAVAILABLE",
                            "credentials cannot be checked now: the identity service is not answering; try again",
                        ) from error
                    log.warning("credentials.keys_refresh_failed", error=repr(error))
        assert self._keys is not None
        return self._keys


def _kids(keys: KeySet) -> set[str | None]:
    return {key.kid for key in keys}


def _key_id_of(credential: str) -> str:
    """The `kid` of a compact JWS's header; Unauthenticated when it is not one."""
    try:
        first = credential.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
        return str(header["kid"])
    except (ValueError, KeyError, TypeError) as error:
        raise Unauthenticated("CREDENTIAL_INVALID", "the credential is not a signed token") from error
