"""Generated bad input to every endpoint of the edge, with a valid token: bodies that are broken JSON, JSON of the
wrong types, forms with odd fields, path ids and query parameters of any kind. The edge answers each with a 2xx,
3xx or 4xx, never a 5xx (a 5xx would be a bug, or a service's refusal mapped wrong)."""

import json
import uuid
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.edge.app import endpoints
from tests.e2e.edge_people import sign_up

FIELDS = [
    "status", "in_reply_to_id", "quoted_status_id", "media_ids", "poll", "spoiler_text", "visibility",
    "display_name", "note", "username", "email", "password", "agreement", "client_name", "redirect_uris", "scopes",
    "grant_type", "client_id", "client_secret", "code", "code_verifier", "scope", "token", "notifications",
    "notifications[last_read_id]", "csrf_token", "step", "user_id", "handle", "login",
]  # fmt: skip
PARAMS = [
    "limit", "max_id", "since_id", "min_id", "types[]", "exclude_types[]", "acct", "q", "type", "id[]", "timeline[]",
    "stream", "pinned", "exclude_replies", "client_id", "redirect_uri", "response_type", "scope", "next",
    "offset", "account_id", "following", "resolve", "any[]", "all[]", "none[]", "local", "only_media",
]  # fmt: skip
ENDPOINTS = [e for e in endpoints() if not e.path.startswith("/api/v1/streaming/user")]

text = st.text(max_size=300)
scalar = st.one_of(text, st.integers(min_value=-(2**70), max_value=2**70), st.booleans(), st.none(), st.floats())
value = st.recursive(
    scalar, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=8
)
path_ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), min_size=1, max_size=40),
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | text, value, max_size=6).map(lambda d: ("json", json.dumps(d).encode())),
    value.map(lambda v: ("json", json.dumps(v).encode())),
    st.binary(max_size=200).map(lambda b: ("json", b)),
    st.dictionaries(st.sampled_from(FIELDS), text, max_size=6).map(lambda d: ("form", d)),
    st.binary(max_size=200).map(lambda b: ("form-bytes", b)),
)
queries = st.dictionaries(st.sampled_from(PARAMS), st.one_of(text, st.integers().map(str)), max_size=5)


@pytest.fixture(scope="module")
def roomy_edge(system):
    """An edge of its own whose rate limits the generated requests do not reach."""
    port = 20180 + uuid.uuid4().int % 700
    system.start(
        "edge",
        port=port,
        label="edge-bad-input",
        env={"CHIRP_EDGE_RATE_LIMIT_ACCOUNT": "1000000", "CHIRP_EDGE_RATE_LIMIT_ADDRESS": "1000000"},
    )
    yield f"http://127.0.0.1:{port}"
    system.kill("edge-bad-input")


@pytest.fixture(scope="module")
def http(roomy_edge):
    with httpx.Client(base_url=roomy_edge, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def person(http):
    return sign_up(http, "fuzz")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{e.method} {e.path}" for e in ENDPOINTS])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifier=path_ids, body=bodies, query=queries)
def test_bad_input_is_never_a_server_error(http, person, endpoint, identifier, body, query):
    path = endpoint.path.replace("{id}", quote(identifier, safe="")).replace("{hashtag}", quote(identifier, safe=""))
    headers = person.headers
    kind, payload = body
    if kind == "json":
        request = {"content": payload, "headers": headers | {"Content-Type": "application/json"}}
    elif kind == "form":
        request = {"data": payload, "headers": headers}
    else:
        request = {"content": payload, "headers": headers | {"Content-Type": "application/x-www-form-urlencoded"}}
    if endpoint.method == "GET":
        request = {"headers": headers}
    answer = http.request(endpoint.method, path, params=query, **request)
    assert answer.status_code < 500, f"{endpoint.method} {path} {query} {body!r}: {answer.status_code} {answer.text}"
