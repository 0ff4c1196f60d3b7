"""The identity service on the real servers: people, accounts, sessions and credentials; OAuth 2 as Mastodon apps
use it, from app registration through the authorization code with PKCE to revocation."""

import asyncio
import base64
import hashlib
import secrets
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.graph.v1 import graph_service_pb2_grpc
from chirp.identity.v1 import identity_pb2, identity_service_pb2_grpc
from chirp.identity.v1 import identity_service_pb2 as pb
from services.cli.launcher import free_port
from services.runtime.credentials import LIFETIME_SECONDS, METADATA_KEY, Caller, CredentialVerifier, Kind
from services.runtime.scopes import FIRST_PARTY
from tests.helpers import unique_handle

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://app.example/callback"
OOB = "urn:ietf:wg:oauth:2.0:oob"


def refused(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=10)
    return raised.value


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert rpc_status.from_call(error).details[0].Unpack(info)
    return info


def sign_up(clients, stem: str = "ada", **fields) -> pb.SignUpResponse:
    fields = {"username": unique_handle(stem), "password": PASSWORD, **fields}
    return clients.identity.SignUp(pb.SignUpRequest(**fields), timeout=10)


def sign_in(clients, login: str, password: str = PASSWORD) -> pb.SignInResponse:
    return clients.identity.SignIn(pb.SignInRequest(login=login, password=password), timeout=10)


def verified(clients, credential: str) -> Caller:
    """The caller a credential names, checked as every service checks it: with the keys of GetSigningKeys."""

    async def keys() -> str:
        return clients.identity.GetSigningKeys(pb.GetSigningKeysRequest(), timeout=10).jwks

    return asyncio.run(CredentialVerifier(keys).verify(credential))


def pkce() -> tuple[str, str]:
    """(a code verifier, its S256 challenge), as RFC 7636 4.1 and 4.2 make them."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def register_app(clients, scopes=("read", "write"), redirect_uris=(REDIRECT_URI, OOB)) -> identity_pb2.App:
    request = pb.RegisterAppRequest(client_name="Test app", redirect_uris=redirect_uris, scopes=scopes)
    return clients.identity.RegisterApp(request, timeout=10).app


def authorization(app: identity_pb2.App, **fields) -> pb.AuthorizationParameters:
    fields = {"response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT_URI, **fields}
    return pb.AuthorizationParameters(**fields)


def exchange(clients, app: identity_pb2.App, **fields) -> pb.AccessToken:
    request = pb.ExchangeTokenRequest(client_id=app.client_id, client_secret=app.client_secret, **fields)
    return clients.identity.ExchangeToken(request, timeout=10).token


def authenticate(clients, access_token: str) -> pb.AuthenticateTokenResponse:
    return clients.identity.AuthenticateToken(pb.AuthenticateTokenRequest(access_token=access_token), timeout=10)


@pytest.fixture
def operator(system, clients):
    """The identity service with the operator's credential in every call."""
    return identity_service_pb2_grpc.IdentityServiceStub(clients.channel(system.settings.identity_addr))


@pytest.fixture(scope="module")
def locked_down(system):
    """A second identity instance of the same deployment with sign-ups and the password grant turned off."""
    port = free_port()
    env = {"CHIRP_REGISTRATIONS_OPEN": "false", "CHIRP_OAUTH_PASSWORD_GRANT": "false"}
    system.start("identity", port=port, label="identity-locked", env=env)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield identity_service_pb2_grpc.IdentityServiceStub(channel)
    channel.close()
    system.kill("identity-locked")


# People, accounts and sessions.


def test_a_person_signs_up_and_signs_in_by_username_or_email_in_any_case(clients):
    email = f"Ada.{uuid.uuid4().hex[:8]}@Example.org"
    signed_up = sign_up(clients, email=email, display_name="Ada L.")
    username = signed_up.person.username
    assert signed_up.session_token and signed_up.account.handle == username
    assert signed_up.account.display_name == "Ada L." and signed_up.person.email == email

    for login in (username, username.upper(), email, email.lower()):
        signed_in = sign_in(clients, login)
        assert signed_in.person.person_id == signed_up.person.person_id
        assert [account.user_id for account in signed_in.accounts] == [signed_up.account.user_id]
        assert signed_in.session_token not in (signed_up.session_token, "")
        assert signed_in.session_expire_time.seconds > signed_in.person.create_time.seconds + 29 * 86400

    session = clients.identity.GetSession(pb.GetSessionRequest(session_token=signed_up.session_token), timeout=10)
    assert session.person.username == username
    # The account is a graph user.
    user = clients.graph.GetUser(graph.GetUserRequest(user_id=signed_up.account.user_id), timeout=10).user
    assert (user.handle, user.display_name) == (username, "Ada L.")


def test_a_wrong_password_and_an_unknown_login_are_refused_alike(clients):
    username = sign_up(clients).person.username
    wrong = refused(clients.identity.SignIn, pb.SignInRequest(login=username, password="not the password"))
    unknown = refused(clients.identity.SignIn, pb.SignInRequest(login="nobody_" + username, password=PASSWORD))
    no_email = refused(clients.identity.SignIn, pb.SignInRequest(login="nobody@example.org", password=PASSWORD))
    for error in (wrong, unknown, no_email):
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (error_info(error).reason, error.details()) == ("LOGIN_FAILED", wrong.details())


def test_usernames_and_emails_are_unique_without_regard_to_case(clients):
    email = f"grace.{uuid.uuid4().hex[:8]}@example.org"
    first = sign_up(clients, "grace", email=email)
    taken = refused(
        clients.identity.SignUp, pb.SignUpRequest(username=first.person.username.upper(), password=PASSWORD)
    )
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS and error_info(taken).reason == "USERNAME_TAKEN"

    other = unique_handle("other")
    request = pb.SignUpRequest(username=other, email=email.upper(), password=PASSWORD)
    taken = refused(clients.identity.SignUp, request)
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS and error_info(taken).reason == "EMAIL_TAKEN"
    # The refused sign-up gave its username back.
    assert clients.identity.SignUp(pb.SignUpRequest(username=other, password=PASSWORD), timeout=10).person.username


def test_sign_up_refuses_a_short_password_and_a_bad_username_or_email(clients):
    cases = [
        ({"password": "short"}, "PASSWORD_TOO_SHORT"),
        ({"username": "no spaces"}, "USERNAME_INVALID"),
        ({"email": "not-an-email"}, "EMAIL_INVALID"),
    ]
    for fields, reason in cases:
        request = pb.SignUpRequest(**{"username": unique_handle("bad"), "password": PASSWORD, **fields})
        error = refused(clients.identity.SignUp, request)
        assert (error.code(), error_info(error).reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)


def test_a_retried_sign_up_answers_the_same_person_and_account(clients):
    request = pb.SignUpRequest(username=unique_handle("retry"), password=PASSWORD, request_id=str(uuid.uuid4()))
    first = clients.identity.SignUp(request, timeout=10)
    again = clients.identity.SignUp(request, timeout=10)
    assert (again.person.person_id, again.account.user_id) == (first.person.person_id, first.account.user_id)
    assert again.session_token != first.session_token  # a new session: the first one is stored only as a hash
    other_password = pb.SignUpRequest(
        username=request.username, password="another password", request_id=request.request_id
    )
    error = refused(clients.identity.SignUp, other_password)
    assert error_info(error).reason == "REQUEST_ID_REUSED"


def test_closed_registrations_refuse_sign_ups(locked_down):
    error = refused(locked_down.SignUp, pb.SignUpRequest(username=unique_handle("closed"), password=PASSWORD))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and error_info(error).reason == "REGISTRATIONS_CLOSED"


def test_a_session_adds_accounts_and_mints_credentials_for_its_own_accounts_only(system, clients):
    ada, bob = sign_up(clients, "ada"), sign_up(clients, "bob")
    handle = unique_handle("alt")
    added = clients.identity.AddAccount(
        pb.AddAccountRequest(session_token=ada.session_token, handle=handle, display_name="Ada's other"), timeout=10
    ).account
    assert added.handle == handle and added.user_id != ada.account.user_id
    session = clients.identity.GetSession(pb.GetSessionRequest(session_token=ada.session_token), timeout=10)
    assert {account.user_id for account in session.accounts} == {ada.account.user_id, added.user_id}

    taken = refused(
        clients.identity.AddAccount, pb.AddAccountRequest(session_token=bob.session_token, handle=handle.upper())
    )
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS

    issued = clients.identity.IssueCredential(
        pb.IssueCredentialRequest(session_token=ada.session_token, user_id=added.user_id), timeout=10
    )
    caller = verified(clients, issued.credential)
    assert (caller.kind, caller.person_id, caller.user_id) == (Kind.USER, ada.person.person_id, added.user_id)
    assert caller.scopes == FIRST_PARTY
    # Graph takes it for that account.
    with grpc.insecure_channel(system.settings.graph_addr) as channel:
        graph_stub = graph_service_pb2_grpc.GraphServiceStub(channel)
        updated = graph_stub.UpdateProfile(
            graph.UpdateProfileRequest(user_id=added.user_id, bio="mine"),
            metadata=((METADATA_KEY, f"Bearer {issued.credential}"),),
            timeout=10,
        )
        assert updated.user.bio == "mine"

    someone_elses = pb.IssueCredentialRequest(session_token=ada.session_token, user_id=bob.account.user_id)
    error = refused(clients.identity.IssueCredential, someone_elses)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and error_info(error).reason == "NOT_YOUR_ACCOUNT"


def test_signing_out_ends_the_session(clients):
    session_token = sign_up(clients).session_token
    clients.identity.SignOut(pb.SignOutRequest(session_token=session_token), timeout=10)
    error = refused(clients.identity.GetSession, pb.GetSessionRequest(session_token=session_token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error_info(error).reason == "SESSION_INVALID"


def test_the_operator_creates_accounts_and_sets_passwords(clients, operator):
    handle = unique_handle("op")
    created = operator.CreateAccount(pb.CreateAccountRequest(handle=handle, request_id=str(uuid.uuid4())), timeout=10)
    assert created.person.username == created.account.handle == handle
    assert (
        clients.graph.GetUser(graph.GetUserRequest(user_id=created.account.user_id), timeout=10).user.handle == handle
    )
    # No password yet: nobody can sign in as it.
    assert refused(clients.identity.SignIn, pb.SignInRequest(login=handle, password=PASSWORD)).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    operator.SetPassword(pb.SetPasswordRequest(username=handle, password=PASSWORD), timeout=10)
    session_token, elsewhere = sign_in(clients, handle).session_token, sign_in(clients, handle).session_token

    # The person changes it with their session: the old password stops working, and so do their other sessions.
    clients.identity.SetPassword(
        pb.SetPasswordRequest(session_token=session_token, password="a new password"), timeout=10
    )
    assert sign_in(clients, handle, "a new password").person.person_id == created.person.person_id
    assert refused(clients.identity.SignIn, pb.SignInRequest(login=handle, password=PASSWORD)).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    clients.identity.GetSession(pb.GetSessionRequest(session_token=session_token), timeout=10)
    ended = refused(clients.identity.GetSession, pb.GetSessionRequest(session_token=elsewhere))
    assert error_info(ended).reason == "SESSION_INVALID"

    # Without the operator's credential, neither call is allowed.
    anonymous = refused(clients.identity.CreateAccount, pb.CreateAccountRequest(handle=unique_handle("nope")))
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED
    anonymous = refused(clients.identity.SetPassword, pb.SetPasswordRequest(username=handle, password=PASSWORD))
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED


# OAuth 2.


def test_the_authorization_code_flow_with_pkce(clients):
    ada = sign_up(clients)
    app = register_app(clients)
    assert app.client_secret and app.scopes == ["read", "write"]
    verifier, challenge = pkce()
    parameters = authorization(
        app, scope="read write:statuses", state="xyz", code_challenge=challenge, code_challenge_method="S256"
    )

    asked = clients.identity.ValidateAuthorization(pb.ValidateAuthorizationRequest(parameters=parameters), timeout=10)
    assert (asked.app.name, list(asked.scopes), asked.redirect_uri) == (
        "Test app",
        ["read", "write:statuses"],
        REDIRECT_URI,
    )
    assert asked.app.client_secret == ""

    approved = clients.identity.Authorize(
        pb.AuthorizeRequest(
            parameters=parameters, session_token=ada.session_token, user_id=ada.account.user_id, approve=True
        ),
        timeout=10,
    )
    location = urlsplit(approved.redirect_to)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]

    def redeem(code_verifier: str) -> pb.AccessToken:
        return exchange(
            clients,
            app,
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=code_verifier,
        )

    with pytest.raises(grpc.RpcError) as wrong:
        redeem(pkce()[0])
    assert wrong.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(wrong.value).reason == "invalid_grant"

    token = redeem(verifier)
    assert token.token_type == "Bearer" and sorted(token.scopes) == ["read", "write:statuses"]
    with pytest.raises(grpc.RpcError) as twice:
        redeem(verifier)
    assert error_info(twice.value).reason == "invalid_grant"

    answer = authenticate(clients, token.access_token)
    assert answer.principal.kind == identity_pb2.PRINCIPAL_KIND_USER
    assert (answer.principal.person_id, answer.principal.user_id) == (ada.person.person_id, ada.account.user_id)
    assert answer.principal.client_id == app.client_id
    caller = verified(clients, answer.credential)
    assert (caller.kind, caller.user_id, caller.client_id) == (Kind.USER, ada.account.user_id, app.client_id)
    assert caller.scopes == {"read", "write:statuses"}
    assert caller.may("write:statuses") and not caller.may("write:follows")
    assert abs(answer.credential_expire_time.seconds - time.time() - LIFETIME_SECONDS) < 60

    clients.identity.RevokeToken(
        pb.RevokeTokenRequest(client_id=app.client_id, client_secret=app.client_secret, token=token.access_token),
        timeout=10,
    )
    error = refused(clients.identity.AuthenticateToken, pb.AuthenticateTokenRequest(access_token=token.access_token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error_info(error).reason == "TOKEN_INVALID"


def test_a_code_without_pkce_and_an_out_of_band_code(clients):
    ada = sign_up(clients)
    app = register_app(clients)
    parameters = authorization(app, redirect_uri=OOB)
    answer = clients.identity.Authorize(
        pb.AuthorizeRequest(
            parameters=parameters, session_token=ada.session_token, user_id=ada.account.user_id, approve=True
        ),
        timeout=10,
    )
    assert answer.redirect_to == "" and answer.code
    token = exchange(clients, app, grant_type="authorization_code", code=answer.code, redirect_uri=OOB)
    assert list(token.scopes) == ["read"]  # the default scope


def test_authorization_requests_that_are_refused(clients):
    ada, bob = sign_up(clients, "ada"), sign_up(clients, "bob")
    app = register_app(clients, scopes=["read"], redirect_uris=[REDIRECT_URI])

    def validate(**fields) -> grpc.RpcError:
        parameters = authorization(app, **fields)
        return refused(clients.identity.ValidateAuthorization, pb.ValidateAuthorizationRequest(parameters=parameters))

    unregistered = validate(redirect_uri="https://evil.example/callback")
    assert error_info(unregistered).reason == "invalid_request"
    assert "redirect_to" not in error_info(unregistered).metadata  # never sent to an unregistered URI
    unknown_client = refused(
        clients.identity.ValidateAuthorization,
        pb.ValidateAuthorizationRequest(parameters=pb.AuthorizationParameters(response_type="code", client_id="nope")),
    )
    assert unknown_client.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(unknown_client).reason == "invalid_client"

    for scope in ("read bogus", "write"):
        error = validate(scope=scope, state="s1")
        info = error_info(error)
        assert (error.code(), info.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_scope")
        assert parse_qs(urlsplit(info.metadata["redirect_to"]).query)["error"] == ["invalid_scope"]
        assert info.metadata["http_status"] == "400"
    plain = validate(code_challenge=pkce()[1], code_challenge_method="plain")
    assert error_info(plain).reason == "invalid_request"

    parameters = authorization(app, state="s2")
    someone_elses = pb.AuthorizeRequest(
        parameters=parameters, session_token=ada.session_token, user_id=bob.account.user_id, approve=True
    )
    assert error_info(refused(clients.identity.Authorize, someone_elses)).reason == "NOT_YOUR_ACCOUNT"

    denied = clients.identity.Authorize(
        pb.AuthorizeRequest(parameters=parameters, session_token=ada.session_token, approve=False), timeout=10
    )
    query = parse_qs(urlsplit(denied.redirect_to).query)
    assert (query["error"], query["state"]) == (["access_denied"], ["s2"])


def test_client_credentials_and_signing_up_through_an_app(clients):
    app = register_app(clients)
    app_token = exchange(clients, app, grant_type="client_credentials", scope="read write")
    principal = authenticate(clients, app_token.access_token).principal
    assert (principal.kind, principal.user_id, principal.client_id) == (
        identity_pb2.PRINCIPAL_KIND_APP,
        0,
        app.client_id,
    )

    signed_up = sign_up(clients, "viaapp", app_token=app_token.access_token, scopes=["read"])
    assert signed_up.session_token == "" and list(signed_up.access_token.scopes) == ["read"]
    principal = authenticate(clients, signed_up.access_token.access_token).principal
    assert (principal.kind, principal.user_id) == (identity_pb2.PRINCIPAL_KIND_USER, signed_up.account.user_id)

    read_only = exchange(clients, app, grant_type="client_credentials", scope="read")
    error = refused(
        clients.identity.SignUp,
        pb.SignUpRequest(username=unique_handle("ro"), password=PASSWORD, app_token=read_only.access_token),
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and error_info(error).reason == "SCOPE_MISSING"


def test_the_token_endpoint_refuses_a_wrong_secret_and_unknown_grants(clients):
    app = register_app(clients)
    wrong = refused(
        clients.identity.ExchangeToken,
        pb.ExchangeTokenRequest(grant_type="client_credentials", client_id=app.client_id, client_secret="wrong"),
    )
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (error_info(wrong).reason, error_info(wrong).metadata["http_status"]) == ("invalid_client", "401")
    unknown = refused(
        clients.identity.ExchangeToken,
        pb.ExchangeTokenRequest(grant_type="implicit", client_id=app.client_id, client_secret=app.client_secret),
    )
    assert error_info(unknown).reason == "unsupported_grant_type"


def test_the_password_grant_when_enabled_and_when_not(clients, locked_down):
    ada = sign_up(clients)
    app = register_app(clients)
    token = exchange(clients, app, grant_type="password", username=ada.person.username, password=PASSWORD)
    assert authenticate(clients, token.access_token).principal.user_id == ada.account.user_id
    wrong = refused(
        clients.identity.ExchangeToken,
        pb.ExchangeTokenRequest(
            grant_type="password",
            client_id=app.client_id,
            client_secret=app.client_secret,
            username=ada.person.username,
            password="not the password",
        ),
    )
    assert error_info(wrong).reason == "invalid_grant"

    off = refused(
        locked_down.ExchangeToken,
        pb.ExchangeTokenRequest(
            grant_type="password",
            client_id=app.client_id,
            client_secret=app.client_secret,
            username=ada.person.username,
            password=PASSWORD,
        ),
    )
    assert error_info(off).reason == "unsupported_grant_type"


def test_register_app_checks_what_it_is_given(clients):
    cases = [
        ({"redirect_uris": []}, "REDIRECT_URI_MISSING"),
        ({"redirect_uris": ["/relative"]}, "REDIRECT_URI_INVALID"),
        ({"scopes": ["read", "admin"]}, "SCOPE_UNKNOWN"),
        ({"client_name": ""}, "APP_NAME_INVALID"),
    ]
    for fields, reason in cases:
        request = pb.RegisterAppRequest(**{"client_name": "App", "redirect_uris": [REDIRECT_URI], **fields})
        error = refused(clients.identity.RegisterApp, request)
        assert (error.code(), error_info(error).reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
