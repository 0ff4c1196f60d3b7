"""Every RPC of every service against every way of not having the right credential: none gets through.

The rules come from each service's ACCESS table, so a new RPC is in the matrix without editing this test (and a
server refuses to start when an RPC has no rule). A cell passes only with UNAUTHENTICATED or PERMISSION_DENIED:
any other answer, even NOT_FOUND, would mean the call reached its handler.
"""

import base64
import json
import time
from pathlib import Path

import grpc
import pytest
from joserfc.jwk import OKPKey

from chirp.graph.v1 import graph_service_pb2
from chirp.identity.v1 import identity_service_pb2
from chirp.notification.v1 import notification_service_pb2
from chirp.post.v1 import post_service_pb2
from chirp.search.v1 import search_service_pb2
from chirp.timeline.v1 import timeline_service_pb2
from chirp.trends.v1 import trends_service_pb2
from services.graph.api import ACCESS as GRAPH
from services.identity.api import ACCESS as IDENTITY
from services.notification.api import ACCESS as NOTIFICATION
from services.post.api import ACCESS as POST
from services.runtime.credentials import Caller, Kind, SigningKeys
from services.runtime.errors import error_reason
from services.search.api import ACCESS as SEARCH
from services.timeline.api import ACCESS as TIMELINE
from services.trends.api import ACCESS as TRENDS

DENIED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
OWNER, STRANGER = 1_000_001, 1_000_002

SERVICES = {
    "graph": (graph_service_pb2, "GraphService", GRAPH),
    "post": (post_service_pb2, "PostService", POST),
    "timeline": (timeline_service_pb2, "TimelineService", TIMELINE),
    "notification": (notification_service_pb2, "NotificationService", NOTIFICATION),
    "identity": (identity_service_pb2, "IdentityService", IDENTITY),
    "search": (search_service_pb2, "SearchService", SEARCH),
    "trends": (trends_service_pb2, "TrendsService", TRENDS),
}


def _unsigned(claims: dict, header: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


@pytest.fixture(scope="module")
def credentials(system) -> dict[str, str | None]:
    """The ways of calling without the right to: each a bearer credential (None: no metadata at all)."""
    keys = SigningKeys.load(Path(system.settings.signing_keys_dir))
    owner_without_scopes = Caller(Kind.USER, person_id=1, user_id=OWNER, scopes=frozenset({"push"}))
    stranger = Caller(Kind.USER, person_id=2, user_id=STRANGER, scopes=frozenset({"read", "write", "follow"}))
    owner = Caller(Kind.USER, person_id=1, user_id=OWNER, scopes=frozenset({"read", "write", "follow"}))
    real_kid = json.loads(base64.urlsafe_b64decode(keys.sign(owner)[0].split(".")[0] + "=="))["kid"]
    impostor = SigningKeys([OKPKey.generate_key("Ed25519", parameters={"kid": real_kid})])
    claims = {"iss": "chirp-identity", "aud": "chirp", "sub": str(OWNER), "kind": "user", "scope": "read write"}
    return {
        "none": None,
        "malformed": "not-a-credential",
        "expired": keys.sign(owner, now=time.time() - 3600)[0],
        "wrong signature": impostor.sign(owner)[0],
        "alg none": _unsigned(claims | {"exp": int(time.time()) + 300}, {"alg": "none", "kid": real_kid}),
        "another account's": keys.sign(stranger)[0],
        "missing scope": keys.sign(owner_without_scopes)[0],
        "the owner's": keys.sign(owner)[0],
    }


def _cells():
    for service, (module, name, rules) in SERVICES.items():
        for method in module.DESCRIPTOR.services_by_name[name].methods:
            rule = rules[method.name]
            for way in (
                "none",
                "malformed",
                "expired",
                "wrong signature",
                "alg none",
                "another account's",
                "missing scope",
            ):
                if rule.public and way in ("none", "another account's", "missing scope"):
                    continue  # a public call may be made by anyone; a credential that is there must still verify
                if rule.privileged and way == "missing scope":
                    continue  # not scoped: covered by "another account's" (a user, not the operator)
                yield pytest.param(service, method, rule, way, id=f"{service}.{method.name}-{way}")


def _call(system, service: str, method, rule, credential: str | None, acting: bool = True) -> grpc.StatusCode:
    """The status the call ends with (OK when it answered); `acting=False` leaves the acting field unset."""
    return _outcome(system, service, method, rule, credential, acting)[0]


def _outcome(
    system, service: str, method, rule, credential: str | None, acting: bool = True
) -> tuple[grpc.StatusCode, str | None]:
    """The status the call ends with and the error's ErrorInfo reason (None when it answered or gave none)."""
    module, name, _ = SERVICES[service]
    request_type = getattr(module, method.input_type.name)
    request = request_type(**({rule.acting_field: OWNER} if rule.acting_field and acting else {}))
    metadata = [("authorization", f"Bearer {credential}")] if credential is not None else []
    path = f"/{module.DESCRIPTOR.services_by_name[name].full_name}/{method.name}"
    address = getattr(system.settings, f"{service}_addr")
    with grpc.insecure_channel(address) as channel:
        try:
            if method.server_streaming:
                call = channel.unary_stream(path, request_serializer=request_type.SerializeToString)
                stream = call(request, metadata=metadata, timeout=3)
                next(iter(stream))
                stream.cancel()
            else:
                call = channel.unary_unary(path, request_serializer=request_type.SerializeToString)
                call(request, metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            return error.code(), error_reason(error)
    return grpc.StatusCode.OK, None


@pytest.mark.parametrize(("service", "method", "rule", "way"), list(_cells()))
def test_no_call_gets_through_without_the_right_credential(system, credentials, service, method, rule, way):
    assert _call(system, service, method, rule, credentials[way]) in DENIED, way


@pytest.mark.parametrize(
    ("service", "method", "rule"),
    [cell.values[:3] for cell in _cells() if cell.values[2].acting_field and cell.values[3] == "none"],
)
def test_the_owners_own_credential_gets_through_the_gate(system, credentials, service, method, rule):
    """The control: with the right credential the same calls reach their handlers (which may still refuse them:
    the account in this test does not exist)."""
    assert _call(system, service, method, rule, credentials["the owner's"]) not in DENIED


@pytest.mark.parametrize(
    ("service", "method", "rule"),
    [
        pytest.param(service, method, rules[method.name], id=f"{service}.{method.name}")
        for service, (module, name, rules) in SERVICES.items()
        for method in module.DESCRIPTOR.services_by_name[name].methods
        if rules[method.name].public or rules[method.name].optional
    ],
)
def test_public_reads_get_through_the_gate_without_a_credential(system, service, method, rule):
    """The other control: a public call, or one whose account is optional and left unset (a search made as no
    one), needs no credential at all. Without one the gate can only refuse with CREDENTIAL_MISSING; a handler may
    still refuse (identity's sign-in calls answer UNAUTHENTICATED to an empty request)."""
    code, reason = _outcome(system, service, method, rule, None, acting=False)
    assert reason != "CREDENTIAL_MISSING", code


def test_every_rule_names_a_method_and_every_method_has_a_rule():
    for module, name, rules in SERVICES.values():
        methods = {method.name for method in module.DESCRIPTOR.services_by_name[name].methods}
        assert methods == set(rules), name
