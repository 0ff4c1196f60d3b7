"""The identity service, declared once: its gRPC API over its tables, the signing keys only it holds (reloaded from
their directory while it runs), authlib's OAuth server, and the graph service it creates accounts in."""

from pathlib import Path

from chirp.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from services.graph.client import GraphClient
from services.identity.api import ACCESS, IdentityApi
from services.identity.keys import KeyDirectory
from services.identity.oauth import OAuthServer
from services.identity.repository import IdentityRepository
from services.identity.service import IdentityService
from services.runtime.bootstrap import id_generator
from services.runtime.credentials import CredentialVerifier
from services.runtime.idempotency import IdempotentRequests
from services.runtime.service import ApiSpec, Resources, ServiceSpec


async def _api(resources: Resources) -> IdentityApi:
    settings = resources.settings
    keys = KeyDirectory(Path(settings.signing_keys_dir))
    keys.start_reloading()
    resources.on_close(keys.stop_reloading)
    # Verifies with the keys it holds instead of asking itself.
    resources.use_verifier(CredentialVerifier(keys.public_jwks))
    session = await resources.session()
    keyspace = settings.keyspace("identity")
    repo = IdentityRepository(session, keyspace)
    graph = GraphClient(settings.graph_addr)
    resources.on_close(graph.close)
    service = IdentityService(repo, keys, graph, id_generator(settings), settings.registrations_open)
    oauth = OAuthServer(repo, service, settings.oauth_password_grant)
    resources.on_close(oauth.close)
    return IdentityApi(service, oauth, IdempotentRequests(session, keyspace))


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
