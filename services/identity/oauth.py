"""OAuth 2 as Mastodon apps use it, on authlib's authorization server: the authorization code grant with PKCE
(RFC 6749, RFC 7636, S256 only), client_credentials, the password grant when the deployment allows it, and
revocation (RFC 7009).

authlib is synchronous, so each request runs in a thread of its own pool, and its storage hooks wait there for the
identity store's coroutines on the service's event loop. Its own pool, not asyncio's default one: the password
grant's hook awaits a password hash that runs in the default pool, which must never be full of threads waiting
for it.

An OAuth refusal leaves here as a ChirpError whose reason is the RFC 6749 error code (`invalid_grant`, ...) and
whose message is the error_description (see `refusal`).
"""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    AuthorizationCodeMixin,
    AuthorizationServer,
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    ResourceOwnerPasswordCredentialsGrant,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from services.identity.domain import (
    CODE_SECONDS,
    OUT_OF_BAND,
    App,
    Code,
    Grant,
    IssuedToken,
    matches,
    new_secret,
    requested_scopes,
    scope_problem,
    secret_hash,
)
from services.identity.repository import IdentityRepository
from services.identity.service import IdentityService
from services.runtime.errors import ChirpError, InvalidArgument, PermissionDenied, Unauthenticated
from services.runtime.scopes import ALL_SCOPES

T = TypeVar("T")

# authlib refuses requests whose URI is not https. TLS is the edge's business; this URI only passes that check.
_REQUEST_URI = "https://identity.chirp.internal/oauth"
# Client credentials reach this service as fields, whichever way (HTTP Basic or the form) the app sent them.
_CLIENT_AUTH = ["client_secret_post"]
# How long a storage hook waits for the store before the request fails.
_STORE_TIMEOUT_SECONDS = 30
# How authlib's refusals become gRPC statuses; any other error code is INVALID_ARGUMENT (HTTP 400).
_STATUS_OF = {
    "invalid_client": Unauthenticated,
    "unauthorized_client": PermissionDenied,
    "access_denied": PermissionDenied,
}
# RFC 6749 5.2 lets invalid_client be 400 or 401; 401 is what Mastodon (Doorkeeper) answers.
_HTTP_STATUS_OF = {"invalid_client": 401}
# What RFC 6749 allows in a parameter (VSCHAR, %x20-7E), less the two characters its error descriptions may not
# carry: authlib echoes some values into descriptions and fails (a ValueError) on these instead of refusing.
_PARAMETER_CHARACTERS = frozenset(chr(code) for code in range(0x20, 0x7F)) - {'"', "\\"}
# Longer than any parameter Chirp issues or accepts (redirect URIs included); a longer key cannot even be looked up.
_MAX_PARAMETER = 2048
# The password grant's two parameters may hold any Unicode (RFC 6749 A.15, A.16); authlib never echoes them.
_UNICODE_PARAMETERS = {"username", "password"}


@dataclass(frozen=True)
class Owner:
    """The resource owner of an authorization: a person, through one of their accounts."""

    person_id: int
    user_id: int


def refusal(error: OAuth2Error) -> ChirpError:
    """The ChirpError an OAuth error travels as: reason = the RFC 6749 error code, message = its description, and
    in the ErrorInfo metadata `http_status` (what the token endpoint answers with) and, for an authorization
    request whose redirect URI is registered, `redirect_to` (where RFC 6749 4.1.2.1 sends the browser with it)."""
    composed = {"http_status": str(_HTTP_STATUS_OF.get(error.error, error.status_code))}
    if error.redirect_uri and error.redirect_uri != OUT_OF_BAND:
        composed["redirect_to"] = dict(error()[2])["Location"]
    return _STATUS_OF.get(error.error, InvalidArgument)(
        error.error, error.description or error.error, composed=composed
    )


class OAuthServer:
    """The authorization and token endpoints over the identity store, as coroutines."""

    def __init__(self, repo: IdentityRepository, service: IdentityService, password_grant: bool) -> None:
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="oauth")
        self._server = _Server(repo, service, asyncio.get_running_loop(), password_grant)

    async def validate(self, parameters: dict[str, str]) -> tuple[App, frozenset[str], str]:
        """(the app, the scopes asked for, where the answer goes) of an authorization request, once it is valid."""
        grant = await self._run(parameters, lambda: self._server.get_consent_grant(_Request("GET", parameters)))
        return grant.client.app, frozenset(grant.request.scope.split()), grant.redirect_uri

    async def authorize(self, parameters: dict[str, str], owner: Owner | None) -> tuple[str, str]:
        """(where to send the browser, the code to show for the out-of-band URI): approved for `owner`'s account,
        or denied when `owner` is None (then the redirect carries error=access_denied, or, out of band, neither)."""

        def decide() -> tuple[str, str]:
            request = _Request("GET", parameters)
            grant = self._server.get_consent_grant(request, end_user=owner)
            try:
                _, _, headers = self._server.create_authorization_response(request, grant_user=owner, grant=grant)
            except AccessDeniedError as denied:
                return ("", "") if grant.redirect_uri == OUT_OF_BAND else (dict(denied()[2])["Location"], "")
            if grant.redirect_uri == OUT_OF_BAND:
                return "", parse_qs(urlsplit(headers["Location"]).query)["code"][0]
            return headers["Location"], ""

        return await self._run(parameters, decide)

    async def exchange(self, form: dict[str, str]) -> IssuedToken:
        """The token endpoint: a new access token for the grant the form asks for."""
        _, body, _ = await self._run(form, lambda: self._server.create_token_response(_Request("POST", form)))
        created = datetime.fromtimestamp(body["created_at"], UTC)
        return IssuedToken(body["access_token"], frozenset(body["scope"].split()), created)

    async def revoke(self, form: dict[str, str]) -> None:
        """RFC 7009: the client's own token is revoked; an unknown one is no error."""
        await self._run(form, lambda: self._server.create_endpoint_response("revocation", _Request("POST", form)))

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, parameters: dict[str, str], work: Callable[[], T]) -> T:
        """`work` in authlib's thread, once every parameter is one RFC 6749 allows (refused as invalid_request)."""
        for name, value in parameters.items():
            if len(value) > _MAX_PARAMETER:
                raise refusal(InvalidRequestError(f"{name} is longer than {_MAX_PARAMETER} characters"))
            if name not in _UNICODE_PARAMETERS and not set(value) <= _PARAMETER_CHARACTERS:
                raise refusal(InvalidRequestError(f"{name} has characters OAuth 2 does not allow"))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        except OAuth2Error as error:
            raise refusal(error) from error


class _Request(OAuth2Request):
    """An authlib request from the fields a gRPC request carried (empty ones left out, as if never sent): the
    query of an authorization request, the form of a token or revocation request."""

    def __init__(self, method: str, fields: dict[str, str]) -> None:
        super().__init__(method, _REQUEST_URI)
        self.payload = BasicOAuth2Payload({key: value for key, value in fields.items() if value})

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class _Server(AuthorizationServer):
    def __init__(
        self, repo: IdentityRepository, service: IdentityService, loop: asyncio.AbstractEventLoop, password_grant: bool
    ) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self.repo = repo
        self.service = service
        self._loop = loop
        self._grant_types = {"authorization_code", "client_credentials"} | ({"password"} if password_grant else set())
        self.register_token_generator("default", _bearer_token)
        self.register_grant(_AuthorizationCode, [_S256Challenge(required=True)])
        self.register_grant(_ClientCredentials)
        if password_grant:
            self.register_grant(_Password)
        self.register_endpoint(_Revocation)

    def wait(self, coroutine: Awaitable[T]) -> T:
        """Run a coroutine of the store on the service's loop and wait for it (from authlib's thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_STORE_TIMEOUT_SECONDS)

    def query_client(self, client_id: str) -> "_Client | None":
        found = self.wait(self.repo.get_app(client_id))
        return _Client(*found, self._grant_types) if found is not None else None

    def save_token(self, token: dict, request: OAuth2Request) -> None:
        owner: Owner | None = request.user
        grant = Grant(
            request.client.get_client_id(),
            frozenset(token["scope"].split()),
            owner.person_id if owner else 0,
            owner.user_id if owner else 0,
        )
        created = datetime.fromtimestamp(token["created_at"], UTC)
        self.wait(self.repo.save_token(secret_hash(token["access_token"]), grant, created))

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # already one: a _Request

    def handle_response(self, status: int, body, headers) -> tuple:
        return status, body, dict(headers)

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error):
        raise error  # to OAuthServer._run, which turns it into a gRPC status

    def send_signal(self, name: str, *args, **kwargs) -> None:
        """Nothing listens to authlib's signals."""


def _bearer_token(grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True) -> dict:
    """A token as Mastodon answers it: no expiry and no refresh token (it lives until revoked), and `created_at`."""
    return {
        "access_token": new_secret(),
        "token_type": "Bearer",
        "scope": " ".join(sorted(requested_scopes(scope or ""))),
        "created_at": int(datetime.now(UTC).timestamp()),
    }


class _Client(ClientMixin):
    """An app as authlib sees it. Every Mastodon app has a secret: there are no public clients."""

    def __init__(self, app: App, stored_secret_hash: bytes, grant_types: set[str]) -> None:
        self.app = app
        self._secret_hash = stored_secret_hash
        self._grant_types = grant_types

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.app.redirect_uris[0] if len(self.app.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(sorted(requested_scopes(scope or "")))  # within the registered ones: see _Scoped

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return matches(client_secret, self._secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in _CLIENT_AUTH

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self._grant_types


class _Scoped:
    """Scopes are checked against the app's registration: an unknown one, or one the app did not register, is
    invalid_scope."""

    request: OAuth2Request

    def validate_requested_scope(self) -> None:
        problem = scope_problem(requested_scopes(self.request.payload.scope or ""), self.request.client.app.scopes)
        if problem:
            raise InvalidScopeError(problem)


@dataclass(frozen=True)
class _StoredCode(AuthorizationCodeMixin):
    code_hash: bytes
    code: Code

    @property
    def code_challenge(self) -> str:
        return self.code.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.code.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.code.redirect_uri

    def get_scope(self) -> str:
        return " ".join(sorted(self.code.grant.scopes))


class _AuthorizationCode(_Scoped, AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _CLIENT_AUTH
    server: _Server

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        owner: Owner = request.user
        data = request.payload.data
        stored = Code(
            Grant(request.client.get_client_id(), frozenset(request.scope.split()), owner.person_id, owner.user_id),
            request.payload.redirect_uri or "",
            data.get("code_challenge", ""),
            data.get("code_challenge_method", ""),
        )
        self.server.wait(self.server.repo.save_code(secret_hash(code), stored, CODE_SECONDS))

    def query_authorization_code(self, code: str, client: _Client) -> _StoredCode | None:
        code_hash = secret_hash(code)
        found = self.server.wait(self.server.repo.get_code(code_hash))
        return _StoredCode(code_hash, found) if found and found.grant.client_id == client.get_client_id() else None

    def authenticate_user(self, authorization_code: _StoredCode) -> Owner:
        """Spends the code, once every check has passed and before the token is made: of two exchanges of one code,
        only the one whose delete applied gets a token."""
        if not self.server.wait(self.server.repo.spend_code(authorization_code.code_hash)):
            raise InvalidGrantError("the authorization code was already used")
        grant = authorization_code.code.grant
        return Owner(grant.person_id, grant.user_id)

    def delete_authorization_code(self, authorization_code: _StoredCode) -> None:
        """Nothing left to delete: authenticate_user spent the code."""


class _S256Challenge(CodeChallenge):
    """PKCE with S256 only: `plain` would send the verifier itself through the browser, which PKCE guards against."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")


class _ClientCredentials(_Scoped, ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _CLIENT_AUTH


class _Password(_Scoped, ResourceOwnerPasswordCredentialsGrant):
    """For first-party command-line apps, when CHIRP_OAUTH_PASSWORD_GRANT allows it. The token acts for the
    person's first account (the one named after the username)."""

    TOKEN_ENDPOINT_AUTH_METHODS = _CLIENT_AUTH
    server: _Server

    def authenticate_user(self, username: str, password: str) -> Owner:
        service = self.server.service
        try:
            person = self.server.wait(service.check_login(username, password))
        except Unauthenticated as error:
            raise InvalidGrantError(error.message) from error
        first = self.server.wait(service.accounts(person))[0]
        return Owner(person.person_id, first.user_id)


@dataclass(frozen=True)
class _StoredToken(TokenMixin):
    token_hash: bytes
    grant: Grant

    def check_client(self, client: _Client) -> bool:
        return self.grant.client_id == client.get_client_id()


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = _CLIENT_AUTH
    server: _Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> _StoredToken | None:
        token_hash = secret_hash(token_string)
        found = self.server.wait(self.server.repo.get_token(token_hash))
        return _StoredToken(token_hash, found) if found is not None else None

    def revoke_token(self, token: _StoredToken, request: OAuth2Request) -> None:
        self.server.wait(self.server.repo.delete_token(token.token_hash))
