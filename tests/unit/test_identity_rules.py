"""Pure rules of the identity service: logins, passwords, apps and scopes, how OAuth errors travel, and the signing
keys it reloads while running."""

import asyncio
import base64
from pathlib import Path

import grpc
import pytest
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidClientError, InvalidGrantError, InvalidScopeError

from services.identity import service as identity_service
from services.identity.domain import (
    OUT_OF_BAND,
    account_request_id,
    is_email,
    login_key,
    matches,
    new_secret,
    requested_scopes,
    scope_problem,
    secret_hash,
    validate_app,
    validate_email,
    validate_password,
    validate_username,
)
from services.identity.keys import KeyDirectory
from services.identity.oauth import refusal
from services.identity.passwords import hash_password, verify_password
from services.runtime import credentials
from services.runtime.credentials import Caller, CredentialVerifier, Kind, SigningKeys
from services.runtime.errors import InvalidArgument, Unauthenticated


def test_logins_are_the_same_whatever_their_case_and_an_at_sign_makes_an_email():
    assert login_key(" Ada_L ") == login_key("ada_l")
    assert is_email("Ada@Example.org") and not is_email("ada_l")


@pytest.mark.parametrize("username", ["", "a" * 31, "ada lovelace", "ada@home", "ádá"])
def test_usernames_are_1_to_30_letters_digits_or_underscores(username):
    with pytest.raises(InvalidArgument) as refused:
        validate_username(username)
    assert refused.value.reason == "USERNAME_INVALID"


def test_a_username_may_be_given_with_its_at_sign():
    assert validate_username(" @Ada_L ") == "Ada_L"


def test_emails_are_optional_but_must_look_like_one():
    assert validate_email("  ") == ""
    assert validate_email(" ada@example.org ") == "ada@example.org"
    for email in ("ada", "ada@", "ada@example", "a b@example.org", "x" * 250 + "@example.org"):
        with pytest.raises(InvalidArgument):
            validate_email(email)


def test_passwords_need_8_characters_and_at_most_1024():
    assert validate_password("12345678") == "12345678"
    for password, reason in (("1234567", "PASSWORD_TOO_SHORT"), ("x" * 1025, "PASSWORD_TOO_LONG")):
        with pytest.raises(InvalidArgument) as refused:
            validate_password(password)
        assert refused.value.reason == reason


def test_a_password_hash_is_argon2id_and_checks_only_its_own_password():
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "Correct horse")
    # No password at all (an unknown login, an account made by the operator) matches nothing.
    assert not verify_password(None, "not anyone's password")


def test_random_secrets_are_stored_as_hashes_that_match_only_them():
    secret = new_secret()
    assert len(secret) >= 43 and secret_hash(secret) != secret.encode()
    assert matches(secret, secret_hash(secret))
    assert not matches(secret + "x", secret_hash(secret)) and not matches(secret, None)


def test_the_request_id_given_to_graph_is_the_same_for_the_same_person_and_handle():
    assert account_request_id(7, "Ada") == account_request_id(7, "ada")
    assert account_request_id(7, "ada") != account_request_id(8, "ada")
    assert account_request_id(7, "ada") != account_request_id(7, "bob")


def test_an_app_registers_redirect_uris_and_known_scopes():
    name, uris, scopes, website = validate_app(
        " My  app ", ["https://app.example/cb myapp://cb", OUT_OF_BAND], [], "https://app.example"
    )
    assert (name, uris, scopes, website) == (
        "My app",
        ("https://app.example/cb", "myapp://cb", OUT_OF_BAND),
        frozenset({"read"}),
        "https://app.example",
    )
    for uris, reason in (
        ([], "REDIRECT_URI_MISSING"),
        (["/cb"], "REDIRECT_URI_INVALID"),
        (["https://a/#x"], "REDIRECT_URI_INVALID"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            validate_app("app", uris, [], "")
        assert refused.value.reason == reason
    with pytest.raises(InvalidArgument) as refused:
        validate_app("app", ["https://app.example/cb"], ["read", "admin:write"], "")
    assert refused.value.reason == "SCOPE_UNKNOWN"


def test_an_app_gets_at_most_the_scopes_it_registered():
    registered = frozenset({"read", "write:statuses", "follow"})
    assert requested_scopes("") == {"read"}
    assert scope_problem(requested_scopes("read:accounts write:statuses"), registered) is None
    assert scope_problem(frozenset({"write:follows"}), registered) is None  # `follow` covers it
    assert "did not register" in scope_problem(frozenset({"write"}), registered)
    assert "unknown scope: bogus" == scope_problem(frozenset({"read", "bogus"}), registered)


def test_oauth_errors_travel_as_grpc_statuses_with_the_rfc_6749_error_code():
    grant = refusal(InvalidGrantError("the authorization code was already used"))
    assert (grant.code, grant.reason, grant.message) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_grant",
        "the authorization code was already used",
    )
    assert grant.metadata == {"http_status": "400"}
    client = refusal(InvalidClientError())
    assert (client.code, client.reason, client.metadata["http_status"]) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "invalid_client",
        "401",
    )
    assert refusal(AccessDeniedError()).code == grpc.StatusCode.PERMISSION_DENIED
    # Sent back to a registered redirect URI, with the state; never to the out-of-band URN.
    redirected = refusal(InvalidScopeError("unknown scope: x", state="s1", redirect_uri="https://app.example/cb"))
    assert redirected.metadata["redirect_to"].startswith("https://app.example/cb?error=invalid_scope&")
    assert "state=s1" in redirected.metadata["redirect_to"]
    assert "redirect_to" not in refusal(InvalidScopeError(redirect_uri=OUT_OF_BAND)).metadata


def test_a_key_rotated_into_the_directory_is_published_after_a_reload_and_the_old_one_still_verifies(
    tmp_path: Path,
):
    first_kid = SigningKeys.generate(tmp_path)
    keys = KeyDirectory(tmp_path)
    old_credential, _ = keys.current.sign(Caller(Kind.OPERATOR))
    new_kid = SigningKeys.generate(tmp_path)
    assert new_kid not in asyncio.run(keys.public_jwks())
    keys.reload()
    assert first_kid in asyncio.run(keys.public_jwks()) and new_kid in asyncio.run(keys.public_jwks())
    new_credential, _ = keys.current.sign(Caller(Kind.OPERATOR))
    # The newest by name signs (kids start with their creation time; two made in one second sort by their suffix).
    assert f'"kid":"{max(first_kid, new_kid)}"' in _header(new_credential)
    verifier = CredentialVerifier(keys.public_jwks)
    for credential in (old_credential, new_credential):
        assert asyncio.run(verifier.verify(credential)).kind is Kind.OPERATOR


def test_a_verified_credential_is_remembered_until_it_expires_or_its_key_is_gone(tmp_path: Path, monkeypatch):
    SigningKeys.generate(tmp_path / "old")
    SigningKeys.generate(tmp_path / "new")
    old, new = SigningKeys.load(tmp_path / "old"), SigningKeys.load(tmp_path / "new")
    credential, expires = old.sign(Caller(Kind.USER, 1, 2, scopes=frozenset({"read"})))
    published = [old.public_jwks()]

    async def jwks() -> str:
        return published[0]

    decoded = []
    real_decode = credentials.jwt.decode
    monkeypatch.setattr(credentials.jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    now = [float(expires - 10)]
    verifier = CredentialVerifier(jwks, clock=lambda: now[0])

    async def scenario():
        for _ in range(3):
            assert (await verifier.verify(credential)).user_id == 2
        assert len(decoded) == 1  # its signature checked once
        now[0] = expires  # expired by the verifier's clock: checked again, not answered from memory
        await verifier.verify(credential)
        assert len(decoded) == 2
        monkeypatch.setattr(credentials, "KEYS_REFRESH_SECONDS", 0.0)
        published[0] = new.public_jwks()  # the key that signed it is removed
        with pytest.raises(Unauthenticated):
            await verifier.verify(credential)

    asyncio.run(scenario())


def test_a_directory_that_breaks_keeps_the_keys_already_held(tmp_path: Path):
    SigningKeys.generate(tmp_path)
    keys = KeyDirectory(tmp_path)
    held = keys.current
    (tmp_path / "broken.pem").write_text("not a key")
    keys.reload()
    assert keys.current is held


def _header(credential: str) -> str:
    first = credential.split(".", 1)[0]
    return base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode().replace(" ", "")


class _NobodyRepository:
    """A store that knows no login."""

    async def person_id_by_username(self, key: str) -> None:
        return None

    async def person_id_by_email(self, key: str) -> None:
        return None


def test_an_unknown_login_still_costs_a_password_hash(monkeypatch):
    hashed = []
    monkeypatch.setattr(identity_service, "verify_password", lambda stored, password: hashed.append(stored) or False)
    service = identity_service.IdentityService(_NobodyRepository(), None, None, None, registrations_open=True)
    for login in ("nobody", "nobody@example.org"):
        with pytest.raises(Unauthenticated) as refused:
            asyncio.run(service.check_login(login, "a password"))
        assert refused.value.reason == "LOGIN_FAILED"
    assert hashed == [None, None]  # verify_password hashes a dummy for None
