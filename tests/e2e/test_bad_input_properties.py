"""Bad input on every RPC of the services, as a new user could send it: whatever arrives, the answer is a
success or a refusal a person can act on (INVALID_ARGUMENT, NOT_FOUND, ...), never INTERNAL or UNKNOWN, and a
refusal's message is short whatever it quotes.

The RPCs are taken from the generated service descriptors, so a new RPC is driven without touching this file, and
each request is built from its message's descriptor: every field gets edge values of its type (strings with NUL,
bidi overrides, 100,000 characters, empty; integers negative, 0, huge, or ids that exist; enum numbers no enum
defines; forged page tokens and notification ids), or is left unset. Raw bytes that are no protobuf at all go
through the same channels.

Calls go through the `clients` fixture's channels, which carry whatever credential the fixture has, so an
UNAUTHENTICATED or PERMISSION_DENIED answer is acceptable; but each RPC must also have refused some of its inputs
for what they are (a validation status), or the test would pass without reaching any validation.
"""

import base64
import json
from collections import Counter

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chirp.graph.v1 import graph_service_pb2
from chirp.identity.v1 import identity_service_pb2
from chirp.notification.v1 import notification_service_pb2
from chirp.post.v1 import post_service_pb2
from chirp.search.v1 import search_service_pb2
from chirp.timeline.v1 import timeline_service_pb2
from chirp.trends.v1 import trends_service_pb2
from services.runtime.clock import MAX_UNIX_MS, now_ms
from services.runtime.errors import MAX_MESSAGE_LENGTH
from tests.helpers import unique_handle

# Which settings address serves each service.
SERVICES = {
    "graph_addr": graph_service_pb2.DESCRIPTOR.services_by_name["GraphService"],
    "post_addr": post_service_pb2.DESCRIPTOR.services_by_name["PostService"],
    "timeline_addr": timeline_service_pb2.DESCRIPTOR.services_by_name["TimelineService"],
    "notification_addr": notification_service_pb2.DESCRIPTOR.services_by_name["NotificationService"],
    "search_addr": search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
    "trends_addr": trends_service_pb2.DESCRIPTOR.services_by_name["TrendsService"],
    "identity_addr": identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"],
}
METHODS = [(address, method) for address, service in SERVICES.items() for method in service.methods]
UNARY = [(address, method) for address, method in METHODS if not method.server_streaming]
STREAMING = [(address, method) for address, method in METHODS if method.server_streaming]

C = grpc.StatusCode
# A request refused for what it is: validation, or a rule of the domain, reached.
VALIDATION = {
    C.INVALID_ARGUMENT,
    C.NOT_FOUND,
    C.ALREADY_EXISTS,
    C.FAILED_PRECONDITION,
    C.OUT_OF_RANGE,
    C.RESOURCE_EXHAUSTED,
}
ACCESS = {C.UNAUTHENTICATED, C.PERMISSION_DENIED}
ANSWERS = {C.OK} | VALIDATION | ACCESS
# A stream that was accepted stays open until the client's deadline.
STREAM_ANSWERS = ANSWERS | {C.DEADLINE_EXCEEDED}
STREAM_SECONDS = 0.3

INT_RANGES = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
}

# By name, so that hypothesis shows which one it drew rather than 100,000 characters of it.
NASTY_STRINGS = {
    "empty": "",
    "space": " ",
    "tab and newline": "\t\n",
    "NUL": "\0",
    "NUL inside": "a\0b",
    "RLO": "\u202eevil",
    "isolate": "\u2066x\u2069",
    "BOM": "\ufeff",
    "at": "@",
    "dash": "-",
    "colon": ":",
    "100,000 x": "x" * 100_000,
    "20,000 é": "é" * 20_000,
    "5,000 emoji": "😷" * 5_000,
    "4,000-character URL": "https://example.com/" + "a" * 4_000,
    "null": "null",
    "quote": "' OR 1=1 --",
}


def forged_token(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


json_values = st.one_of(
    st.integers(),
    st.sampled_from([10**20, 2**63, -(2**63) - 1, MAX_UNIX_MS + 1, -1, 0, 1.5, True, None]),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=2),
)
# The shapes of the tokens the APIs give (url-safe base64 of a JSON object), to forge with the right keys.
TOKEN_KEYS = [("after",), ("before",), ("time", "group"), ("time", "actor"), ("q", "offset"), ("time", "post")]
page_tokens = st.one_of(
    st.builds(
        lambda keys, values: forged_token(dict(zip(keys, values, strict=False))),
        st.sampled_from(TOKEN_KEYS),
        st.lists(json_values, min_size=2, max_size=2),
    ),
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.dictionaries(
        st.sampled_from(["after", "before", "time", "group", "actor", "q", "offset", "post", "x"]),
        json_values,
        min_size=1,
        max_size=3,
    ).map(forged_token),
    json_values.map(forged_token),
    st.text(max_size=20),
    st.just(5_000).map(lambda n: "A" * n),
)
GROUPS = ["follow", "like:1", "mention:5", "repost:" + "9" * 19, "like:", "like:-1", "nope:1", "like:1:2", ""]
notification_ids = st.one_of(
    st.builds(
        lambda ms, group: f"{ms}-{group}",
        st.sampled_from([0, 1, now_ms(), now_ms() + 3_600_000, MAX_UNIX_MS, MAX_UNIX_MS + 1, 10**20, -5]),
        st.sampled_from(GROUPS),
    ),
    st.sampled_from(GROUPS),
    st.just(100_000).map(lambda n: "1-like:1" + "1" * n),
)


def strings_for(field: FieldDescriptor) -> st.SearchStrategy[str]:
    plausible = st.one_of(st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True), st.text(max_size=30))
    special = []
    if "token" in field.name:
        special.append(page_tokens)
    if "notification_id" in field.name:
        special.append(notification_ids)
    return st.one_of(*special, st.sampled_from(sorted(NASTY_STRINGS)).map(NASTY_STRINGS.__getitem__), plausible)


def values_for(field: FieldDescriptor, known_ids: list[int], depth: int) -> st.SearchStrategy:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return strings_for(field)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        defined = sorted(field.enum_type.values_by_number)
        return st.one_of(st.sampled_from(defined), st.integers(-(2**31), 2**31 - 1))
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        edges = [v for v in (low, high, -1, 0, 1, 2**31, 2**53, 10**18) if low <= v <= high]
        # Ids that exist a third of the time: a bad page token of an unknown user is NOT_FOUND before it is read.
        known = [st.sampled_from(known_ids)] if kind == FieldDescriptor.TYPE_INT64 else []
        return st.one_of(*known, st.sampled_from(edges), st.integers(low, high))
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind == FieldDescriptor.TYPE_MESSAGE:
        return messages_for(field.message_type, known_ids, depth + 1)
    raise AssertionError(f"no strategy for {field.full_name} (type {kind})")


def messages_for(descriptor, known_ids: list[int], depth: int = 0) -> st.SearchStrategy:
    """Messages of `descriptor` with each field unset or holding an edge value of its type."""
    message_class = GetMessageClass(descriptor)
    if depth > 3:
        return st.just(message_class())
    fields = {}
    for field in descriptor.fields:
        values = values_for(field, known_ids, depth)
        fields[field.name] = st.none() | (st.lists(values, max_size=4) if field.is_repeated else values)

    def build(chosen: dict):
        message = message_class()
        for name, value in chosen.items():
            if value is None:
                continue
            field = descriptor.fields_by_name[name]
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.is_repeated:
                    getattr(message, name).extend(value)
                else:
                    getattr(message, name).CopyFrom(value)
            elif field.is_repeated:
                getattr(message, name).extend(value)
            else:
                setattr(message, name, value)
        return message

    return st.fixed_dictionaries(fields).map(build)


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def answer(channel: grpc.Channel, method: MethodDescriptor, payload: bytes) -> tuple[grpc.StatusCode, str]:
    """The status the server answers `payload` (serialized request bytes) with."""
    identity = lambda data: data  # noqa: E731
    try:
        if method.server_streaming:
            call = channel.unary_stream(path_of(method), request_serializer=identity, response_deserializer=identity)
            for _ in call(payload, timeout=STREAM_SECONDS):
                pass
        else:
            call = channel.unary_unary(path_of(method), request_serializer=identity, response_deserializer=identity)
            call(payload, timeout=30)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return C.OK, ""


_KNOWN_IDS: dict[str, list[int]] = {}


@pytest.fixture
def known_ids(clients):
    """Ids that exist (two users and a post of each), so generated requests also get past "not found"; made once
    per system, through the clients the tests use."""
    if clients.settings.keyspace_prefix in _KNOWN_IDS:
        return _KNOWN_IDS[clients.settings.keyspace_prefix]
    users = [
        clients.graph.CreateUser(graph_service_pb2.CreateUserRequest(handle=unique_handle("prop")), timeout=10).user
        for _ in range(2)
    ]
    posts = [
        clients.post.CreatePost(post_service_pb2.CreatePostRequest(author_id=u.user_id, text="hi"), timeout=10).post
        for u in users
    ]
    _KNOWN_IDS[clients.settings.keyspace_prefix] = [u.user_id for u in users] + [p.post_id for p in posts]
    return _KNOWN_IDS[clients.settings.keyspace_prefix]


def drive(clients, known_ids, address: str, method: MethodDescriptor, examples: int, shrink: bool = True) -> Counter:
    """Send `examples` generated requests of `method`; fail on any answer outside what a person can act on."""
    channel = clients.channel(getattr(clients.settings, address))
    allowed = STREAM_ANSWERS if method.server_streaming else ANSWERS
    seen: Counter = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(messages_for(method.input_type, known_ids))
    def call(request):
        code, details = answer(channel, method, request.SerializeToString())
        seen[code] += 1
        assert code in allowed, f"{method.name} answered {code.name}: {details!r} to {str(request)[:500]!r}"
        if code in VALIDATION:
            assert len(details) <= MAX_MESSAGE_LENGTH, f"{method.name}: a {len(details)}-character message"

    call()
    return seen


def reached_validation(method: MethodDescriptor, seen: Counter) -> None:
    """A method that takes no input (GetSigningKeys) has nothing to refuse."""
    if method.input_type.fields and set(seen) - {C.UNAUTHENTICATED}:
        assert set(seen) & VALIDATION, f"{method.name}: no input refused as invalid or not found: {dict(seen)}"


@pytest.mark.parametrize(("address", "method"), UNARY, ids=[method.name for _, method in UNARY])
def test_no_generated_request_makes_a_unary_rpc_fail_inside(clients, known_ids, address, method):
    reached_validation(method, drive(clients, known_ids, address, method, examples=60))


@pytest.mark.parametrize(("address", "method"), STREAMING, ids=[method.name for _, method in STREAMING])
def test_no_generated_request_makes_a_streaming_rpc_fail_inside(clients, known_ids, address, method):
    reached_validation(method, drive(clients, known_ids, address, method, examples=15, shrink=False))


def malformed_payloads(method: MethodDescriptor) -> st.SearchStrategy[bytes]:
    """Bytes that are no valid `method.input_type`: random ones, truncated fields, a string field of invalid UTF-8."""
    strings = [f.number for f in method.input_type.fields if f.type == FieldDescriptor.TYPE_STRING]
    invalid_utf8 = [bytes([number << 3 | 2, 2, 0xFF, 0xFE]) for number in strings if number < 16]
    return st.one_of(
        st.binary(min_size=1, max_size=64),
        st.sampled_from([b"\xff", b"\x0a\x05ab", b"\x08", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"]),
        *([st.sampled_from(invalid_utf8)] if invalid_utf8 else []),
    )


@pytest.mark.parametrize(("address", "method"), METHODS, ids=[method.name for _, method in METHODS])
def test_raw_malformed_bytes_never_make_an_rpc_fail_inside(clients, address, method):
    channel = clients.channel(getattr(clients.settings, address))
    allowed = STREAM_ANSWERS if method.server_streaming else ANSWERS

    @settings(max_examples=10, deadline=None, database=None, phases=[Phase.explicit, Phase.generate])
    @given(malformed_payloads(method))
    def call(payload):
        code, details = answer(channel, method, payload)
        assert code in allowed, f"{method.name} answered {code.name}: {details!r} to {payload!r}"

    call()
