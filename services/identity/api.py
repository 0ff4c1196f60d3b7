"""gRPC API of the identity service. Every call carries its own proof (a password, a session, a client secret, an
access token, the operator secret), so most methods are public at the gate and check that proof themselves."""

from google.protobuf.timestamp_pb2 import Timestamp

from chirp.identity.v1 import identity_pb2, identity_service_pb2_grpc
from chirp.identity.v1 import identity_service_pb2 as pb
from services.identity.domain import Account, App, IssuedToken, Person
from services.identity.oauth import OAuthServer, Owner
from services.identity.service import IdentityService
from services.runtime.access import privileged, public
from services.runtime.clock import timestamp_from_datetime
from services.runtime.credentials import Caller, Kind
from services.runtime.idempotency import IdempotentRequests

# Who may call what (services/runtime/access.py).
ACCESS = {
    "SignUp": public(),
    "SignIn": public(),
    "SignOut": public(),
    "GetSession": public(),
    "AddAccount": public(),
    "IssueCredential": public(),
    "RegisterApp": public(),
    "ValidateAuthorization": public(),
    "Authorize": public(),
    "ExchangeToken": public(),
    "RevokeToken": public(),
    "AuthenticateToken": public(),
    "GetSigningKeys": public(),
    "IssueOperatorCredential": public(),
    "CreateAccount": privileged(),
    # A person's own session, or the operator's credential: the handler tells them apart.
    "SetPassword": public(),
}

_PRINCIPAL_KINDS = {
    Kind.USER: identity_pb2.PRINCIPAL_KIND_USER,
    Kind.APP: identity_pb2.PRINCIPAL_KIND_APP,
    Kind.OPERATOR: identity_pb2.PRINCIPAL_KIND_OPERATOR,
    Kind.SERVICE: identity_pb2.PRINCIPAL_KIND_SERVICE,
}


def _timestamp(unix_seconds: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(unix_seconds)
    return stamp


def _person(person: Person) -> identity_pb2.Person:
    return identity_pb2.Person(
        person_id=person.person_id,
        username=person.username,
        email=person.email,
        create_time=timestamp_from_datetime(person.create_time),
    )


def _account(account: Account) -> identity_pb2.Account:
    return identity_pb2.Account(user_id=account.user_id, handle=account.handle, display_name=account.display_name)


def _app(app: App, client_secret: str = "") -> identity_pb2.App:
    return identity_pb2.App(
        client_id=app.client_id,
        client_secret=client_secret,
        name=app.name,
        redirect_uris=app.redirect_uris,
        scopes=sorted(app.scopes),
        website=app.website,
        create_time=timestamp_from_datetime(app.create_time),
    )


def _token(token: IssuedToken) -> pb.AccessToken:
    return pb.AccessToken(
        access_token=token.token,
        token_type="Bearer",
        scopes=sorted(token.scopes),
        create_time=timestamp_from_datetime(token.create_time),
    )


def _principal(caller: Caller) -> identity_pb2.Principal:
    return identity_pb2.Principal(
        kind=_PRINCIPAL_KINDS[caller.kind],
        person_id=caller.person_id,
        user_id=caller.user_id,
        client_id=caller.client_id,
        scopes=sorted(caller.scopes),
        service=caller.service,
    )


def _authorization(parameters: pb.AuthorizationParameters) -> dict[str, str]:
    return {field.name: value for field, value in parameters.ListFields()}


class IdentityApi(identity_service_pb2_grpc.IdentityServiceServicer):
    def __init__(self, service: IdentityService, oauth: OAuthServer, requests: IdempotentRequests) -> None:
        self._service = service
        self._oauth = oauth
        self._requests = requests

    async def SignUp(self, request: pb.SignUpRequest, context) -> pb.SignUpResponse:
        # Not through the request-id store: the answer holds a session or a token, which is stored only as a hash.
        # The request id still makes a retry finish the first attempt's person (IdentityService._create_person).
        registered = await self._service.sign_up(
            request.username,
            request.email,
            request.password,
            request.display_name,
            request.request_id,
            request.app_token,
            list(request.scopes),
        )
        return pb.SignUpResponse(
            person=_person(registered.person),
            account=_account(registered.account),
            session_token=registered.session_token,
            access_token=_token(registered.access_token) if registered.access_token else None,
        )

    async def SignIn(self, request: pb.SignInRequest, context) -> pb.SignInResponse:
        person, session_token, expires = await self._service.sign_in(request.login, request.password)
        return pb.SignInResponse(
            person=_person(person),
            accounts=[_account(account) for account in await self._service.accounts(person)],
            session_token=session_token,
            session_expire_time=timestamp_from_datetime(expires),
        )

    async def SignOut(self, request: pb.SignOutRequest, context) -> pb.SignOutResponse:
        await self._service.sign_out(request.session_token)
        return pb.SignOutResponse()

    async def GetSession(self, request: pb.GetSessionRequest, context) -> pb.GetSessionResponse:
        person = await self._service.session_person(request.session_token)
        accounts = await self._service.accounts(person)
        return pb.GetSessionResponse(person=_person(person), accounts=[_account(account) for account in accounts])

    async def AddAccount(self, request: pb.AddAccountRequest, context) -> pb.AddAccountResponse:
        async def add():
            account = await self._service.add_account(request.session_token, request.handle, request.display_name)
            return pb.AddAccountResponse(account=_account(account))

        return await self._requests.run(request.request_id, request, add, pb.AddAccountResponse)

    async def IssueCredential(self, request: pb.IssueCredentialRequest, context) -> pb.IssueCredentialResponse:
        credential, expires = await self._service.issue_credential(request.session_token, request.user_id)
        return pb.IssueCredentialResponse(credential=credential, expire_time=_timestamp(expires))

    async def RegisterApp(self, request: pb.RegisterAppRequest, context) -> pb.RegisterAppResponse:
        app, secret = await self._service.register_app(
            request.client_name, list(request.redirect_uris), list(request.scopes), request.website
        )
        return pb.RegisterAppResponse(app=_app(app, secret))

    async def ValidateAuthorization(
        self, request: pb.ValidateAuthorizationRequest, context
    ) -> pb.ValidateAuthorizationResponse:
        app, scopes, redirect_uri = await self._oauth.validate(_authorization(request.parameters))
        return pb.ValidateAuthorizationResponse(app=_app(app), scopes=sorted(scopes), redirect_uri=redirect_uri)

    async def Authorize(self, request: pb.AuthorizeRequest, context) -> pb.AuthorizeResponse:
        person = await self._service.session_person(request.session_token)
        owner = None
        if request.approve:
            await self._service.check_owns(person, request.user_id)
            owner = Owner(person.person_id, request.user_id)
        redirect_to, code = await self._oauth.authorize(_authorization(request.parameters), owner)
        return pb.AuthorizeResponse(redirect_to=redirect_to, code=code)

    async def ExchangeToken(self, request: pb.ExchangeTokenRequest, context) -> pb.ExchangeTokenResponse:
        form = {field.name: value for field, value in request.ListFields()}
        return pb.ExchangeTokenResponse(token=_token(await self._oauth.exchange(form)))

    async def RevokeToken(self, request: pb.RevokeTokenRequest, context) -> pb.RevokeTokenResponse:
        await self._oauth.revoke({field.name: value for field, value in request.ListFields()})
        return pb.RevokeTokenResponse()

    async def AuthenticateToken(self, request: pb.AuthenticateTokenRequest, context) -> pb.AuthenticateTokenResponse:
        caller, credential, expires = await self._service.authenticate_token(request.access_token)
        return pb.AuthenticateTokenResponse(
            principal=_principal(caller), credential=credential, credential_expire_time=_timestamp(expires)
        )

    async def GetSigningKeys(self, request: pb.GetSigningKeysRequest, context) -> pb.GetSigningKeysResponse:
        return pb.GetSigningKeysResponse(jwks=self._service.signing_keys())

    async def IssueOperatorCredential(
        self, request: pb.IssueOperatorCredentialRequest, context
    ) -> pb.IssueOperatorCredentialResponse:
        credential, expires = await self._service.operator_credential(request.operator_secret, request.user_id)
        return pb.IssueOperatorCredentialResponse(credential=credential, expire_time=_timestamp(expires))

    async def CreateAccount(self, request: pb.CreateAccountRequest, context) -> pb.CreateAccountResponse:
        async def create():
            person, account = await self._service.create_account(
                request.handle, request.display_name, request.request_id
            )
            return pb.CreateAccountResponse(person=_person(person), account=_account(account))

        return await self._requests.run(request.request_id, request, create, pb.CreateAccountResponse)

    async def SetPassword(self, request: pb.SetPasswordRequest, context) -> pb.SetPasswordResponse:
        await self._service.set_password(request.session_token, request.username, request.password)
        return pb.SetPasswordResponse()
