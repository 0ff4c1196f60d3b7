"""A verifier pays for a credential's signature once, and remembers it no longer than the answer would hold: not
past its expiry, not past the keys it was verified with."""

import time

import pytest
from joserfc import jwt

from services.runtime import credentials
from services.runtime.credentials import KEYS_REFRESH_SECONDS, Caller, CredentialVerifier, Kind, SigningKeys
from services.runtime.errors import Unauthenticated

ADA = Caller(Kind.USER, person_id=1, user_id=42, scopes=frozenset({"read"}))


@pytest.fixture
def keys(tmp_path) -> SigningKeys:
    SigningKeys.generate(tmp_path)
    return SigningKeys.load(tmp_path)


class Keys:
    """The identity service's key set as a verifier fetches it, counting the fetches."""

    def __init__(self, jwks: str) -> None:
        self.jwks = jwks
        self.fetches = 0

    async def __call__(self) -> str:
        self.fetches += 1
        return self.jwks


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every signature verification, by credential."""
    seen: list[str] = []
    decode = jwt.decode

    def counting(value, *args, **kwargs):
        seen.append(value)
        return decode(value, *args, **kwargs)

    monkeypatch.setattr(credentials.jwt, "decode", counting)
    return seen


async def test_a_credential_is_verified_once_and_then_remembered(keys, decodes):
    verifier = CredentialVerifier(Keys(keys.public_jwks()))
    token, _ = keys.sign(ADA)
    assert [await verifier.verify(token) for _ in range(5)] == [ADA] * 5
    assert decodes == [token]


async def test_a_remembered_credential_is_refused_once_it_expires(keys, decodes, monkeypatch):
    now = [time.time()]
    verifier = CredentialVerifier(Keys(keys.public_jwks()), clock=lambda: now[0])
    token, expires = keys.sign(ADA, now=now[0], lifetime=60)
    assert await verifier.verify(token) == ADA
    now[0] = expires + 1.0  # by the verifier's clock, and by the claims' check, which reads time.time
    monkeypatch.setattr(time, "time", lambda: now[0])
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_when_the_keys_are_due_again_a_remembered_credential_is_checked_against_the_new_ones(
    keys, tmp_path, decodes, monkeypatch
):
    fetched = Keys(keys.public_jwks())
    verifier = CredentialVerifier(fetched)
    token, _ = keys.sign(ADA)
    assert await verifier.verify(token) == ADA
    other = tmp_path / "other"
    SigningKeys.generate(other)
    fetched.jwks = SigningKeys.load(other).public_jwks()  # the key that signed it was rotated out and removed
    later = time.monotonic() + KEYS_REFRESH_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
    assert fetched.fetches >= 2
