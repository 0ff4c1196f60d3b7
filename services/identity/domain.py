"""The identity service's rules, with no I/O: secrets and how they are compared, what a username, an email, a
password, an app and a scope request must be."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from services.runtime import scopes as oauth_scopes
from services.runtime.errors import InvalidArgument

# Bytes of randomness in an operator secret, an access token, a session or an authorization code.
SECRET_BYTES = 32
# A sign-in session lasts this long (then its row expires with Cassandra's TTL).
SESSION_SECONDS = 30 * 86400
# An authorization code must be exchanged within this time (RFC 6749 recommends at most 10 minutes).
CODE_SECONDS = 600

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,30}")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL = 254
MIN_PASSWORD = 8
# Long enough for any passphrase, short enough that hashing one is no denial of service.
MAX_PASSWORD = 1024
MAX_APP_NAME = 100
MAX_WEBSITE = 2000
# Where a code goes when the app cannot receive a redirect: the person copies it from the page.
OUT_OF_BAND = "urn:ietf:wg:oauth:2.0:oob"
# What an app gets when it asks for no scope (Mastodon's default).
DEFAULT_SCOPES = frozenset({"read"})


@dataclass(frozen=True)
class Person:
    person_id: int
    username: str
    email: str
    create_time: datetime


@dataclass(frozen=True)
class Account:
    user_id: int
    handle: str
    display_name: str


@dataclass(frozen=True)
class App:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    website: str
    create_time: datetime


@dataclass(frozen=True)
class Grant:
    """What an access token or an authorization code acts for: an account of a person through an app, or (no
    person, no account) the app on its own."""

    client_id: str
    scopes: frozenset[str]
    person_id: int = 0
    user_id: int = 0


@dataclass(frozen=True)
class Code:
    """An authorization code's binding: only this client, at this redirect URI, with the PKCE verifier of this
    challenge, can exchange it."""

    grant: Grant
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> bytes:
    """What is stored of a high-entropy secret: it cannot be read back, and a leaked table grants nothing."""
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored_hash: bytes | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(secret_hash(secret), stored_hash)


def login_key(login: str) -> str:
    """What makes two usernames (or two emails) the same: case does not count."""
    return login.strip().lower()


def lookup_key(login: str) -> str:
    """The key a sign-in looks a person up by: what nobody can have (nothing, or longer than any email) is refused
    before it reaches Cassandra, which cannot look up an empty key."""
    key = login_key(login)
    if not key:
        raise InvalidArgument("LOGIN_REQUIRED", "give a username or an email")
    if len(key) > MAX_EMAIL:
        raise InvalidArgument("LOGIN_INVALID", f"a username or an email has at most {MAX_EMAIL} characters")
    return key


def is_email(login: str) -> bool:
    """A login with an @ is an email; usernames cannot have one."""
    return "@" in login


def validate_username(username: str) -> str:
    username = username.strip().removeprefix("@")
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidArgument(
            "USERNAME_INVALID",
            f"username {username!r} is not allowed: use 1 to 30 letters (A-Z), digits or underscores",
            username=username,
        )
    return username


def validate_email(email: str) -> str:
    """The email as given, trimmed; empty when none was given."""
    email = email.strip()
    if email and (len(email) > MAX_EMAIL or not EMAIL_PATTERN.fullmatch(email)):
        raise InvalidArgument("EMAIL_INVALID", f"{email[:MAX_EMAIL]!r} is not an email address")
    return email


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument("PASSWORD_TOO_SHORT", f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidArgument("PASSWORD_TOO_LONG", f"a password can be at most {MAX_PASSWORD} characters")
    return password


def handle_key(handle: str) -> str:
    """What makes two handles the same, as graph sees them: no @, and case does not count."""
    return handle.strip().removeprefix("@").lower()


def account_request_id(person_id: int, handle: str) -> str:
    """The request id identity gives graph's CreateUser for this person's account with this handle: the same on
    every retry, so a crash between graph's write and identity's finishes on retry with the account graph made,
    never a second one."""
    return f"identity:{person_id}:{handle_key(handle)}"


def validate_app(
    name: str, redirect_uris: list[str], scopes: list[str], website: str
) -> tuple[str, tuple[str, ...], frozenset[str], str]:
    """(name, redirect URIs, scopes, website) of an app registration, checked. Redirect URIs may come one per item
    or whitespace-separated in one (as Mastodon's form sends them)."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_APP_NAME:
        raise InvalidArgument("APP_NAME_INVALID", f"client_name must have 1 to {MAX_APP_NAME} characters")
    uris = tuple(dict.fromkeys(uri for item in redirect_uris for uri in item.split()))
    if not uris:
        raise InvalidArgument("REDIRECT_URI_MISSING", f"give at least one redirect URI (or {OUT_OF_BAND})")
    for uri in uris:
        _check_redirect_uri(uri)
    granted = oauth_scopes.parse(scopes) or DEFAULT_SCOPES
    unknown = oauth_scopes.unknown(granted)
    if unknown:
        raise InvalidArgument("SCOPE_UNKNOWN", f"unknown scope: {', '.join(unknown)}", scope=" ".join(unknown))
    website = website.strip()
    if website and (len(website) > MAX_WEBSITE or urlsplit(website).scheme not in ("http", "https")):
        raise InvalidArgument("WEBSITE_INVALID", "website must be an http or https URL")
    return name, uris, granted, website


def _check_redirect_uri(uri: str) -> None:
    """An absolute URI without a fragment (RFC 6749 3.1.2); apps may use their own schemes (myapp://callback)."""
    if uri == OUT_OF_BAND:
        return
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or (parts.scheme in ("http", "https") and not parts.netloc):
        raise InvalidArgument(
            "REDIRECT_URI_INVALID", f"redirect URI {uri!r} must be absolute and have no #fragment", uri=uri
        )


def requested_scopes(scope: str | list[str]) -> frozenset[str]:
    """The scopes a request asks for; none asked means the default."""
    return oauth_scopes.parse(scope) or DEFAULT_SCOPES


def scope_problem(requested: frozenset[str], registered: frozenset[str]) -> str | None:
    """Why an app may not have `requested` (an unknown scope, or one it did not register); None when it may."""
    unknown = oauth_scopes.unknown(requested)
    if unknown:
        return f"unknown scope: {' '.join(unknown)}"
    beyond = sorted(scope for scope in requested if not oauth_scopes.covers(registered, scope))
    if beyond:
        return f"the app did not register the scope {' '.join(beyond)}"
    return None


@dataclass(frozen=True)
class IssuedToken:
    """An access token as handed out (the token itself exists only in this answer; the store keeps its hash)."""

    token: str
    scopes: frozenset[str]
    create_time: datetime


@dataclass(frozen=True)
class Registration:
    """A new person and their first account, with the proof the sign-up asked for: a sign-in session, or (through an
    app) the app's token for the new account."""

    person: Person
    account: Account
    session_token: str = ""
    access_token: IssuedToken | None = None
