"""gRPC API of the identity service. Every call carries its own proof (a password, a session, a client secret, an
access token, the operator secret), so most methods are public at the gate and check that proof themselves."""

from google.protobuf.timestamp_pb2 import Timestamp

from chirp.identity.v1 import identity_service_pb2 as pb
from chirp.identity.v1 import identity_service_pb2_grpc
from services.identity.service import IdentityService
from services.runtime.access import privileged, public

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


def _timestamp(unix_seconds: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(unix_seconds)
    return stamp


class IdentityApi(identity_service_pb2_grpc.IdentityServiceServicer):
    def __init__(self, service: IdentityService) -> None:
        self._service = service

    async def GetSigningKeys(self, request: pb.GetSigningKeysRequest, context) -> pb.GetSigningKeysResponse:
        return pb.GetSigningKeysResponse(jwks=self._service.signing_keys())

    async def IssueOperatorCredential(
        self, request: pb.IssueOperatorCredentialRequest, context
    ) -> pb.IssueOperatorCredentialResponse:
        credential, expires = await self._service.operator_credential(request.operator_secret, request.user_id)
        return pb.IssueOperatorCredentialResponse(credential=credential, expire_time=_timestamp(expires))
