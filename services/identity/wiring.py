"""The identity service, declared once: its gRPC API over its tables and the signing keys only it holds."""

from pathlib import Path

from chirp.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from services.identity.api import ACCESS, IdentityApi
from services.identity.repository import IdentityRepository
from services.identity.service import IdentityService
from services.runtime.credentials import CredentialVerifier, SigningKeys
from services.runtime.service import ApiSpec, Resources, ServiceSpec


async def _api(resources: Resources) -> IdentityApi:
    settings = resources.settings
    keys = SigningKeys.load(Path(settings.signing_keys_dir))

    async def own_keys() -> str:
        return keys.public_jwks()

    resources.use_verifier(CredentialVerifier(own_keys))
    repo = IdentityRepository(await resources.session(), settings.keyspace("identity"))
    return IdentityApi(IdentityService(repo, keys))


SERVICE = ServiceSpec(
    name="identity",
    api=ApiSpec(
        service=identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"],
        address=lambda settings: settings.identity_addr,
        add_to_server=identity_service_pb2_grpc.add_IdentityServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
)
