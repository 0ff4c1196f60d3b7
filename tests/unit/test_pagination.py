import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.clock import MAX_UNIX_MS, datetime_from_ms
from services.runtime.errors import InvalidArgument
from services.runtime.pagination import (
    ID,
    INT64_MAX,
    MAX_TOKEN_LENGTH,
    UNIX_MS,
    Integer,
    Text,
    clamp_page_size,
    decode_token,
    encode_token,
)


def forged(position) -> str:
    """A token as a client could make one: url-safe base64 of any JSON."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def refused(token: str, keys) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        decode_token(token, keys=keys)
    assert raised.value.reason == "PAGE_TOKEN_INVALID"
    return raised.value


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_a_token_decodes_to_the_position_it_encodes(position):
    assert decode_token(encode_token({"before": position}), keys={"before": int}) == {"before": position}


@given(st.integers(0, INT64_MAX), st.integers(0, MAX_UNIX_MS), st.text(max_size=27))
def test_a_token_of_declared_types_round_trips(post_id, ms, group):
    keys = {"before": ID, "time": UNIX_MS, "group": Text(27)}
    position = {"before": post_id, "time": ms, "group": group}
    assert decode_token(encode_token(position), keys=keys) == position


@pytest.mark.parametrize("token", ["garbage!", "e30", encode_token({"other": 1}), "%%%"])
def test_a_token_this_api_did_not_issue_is_invalid_argument(token):
    refused(token, {"before": int})


@pytest.mark.parametrize(
    "value",
    ["12", 1.5, 1.0, True, False, None, [1], {"a": 1}, 2**63, -(2**63) - 1, 10**20, float("inf"), float("nan")],
    ids=repr,
)
def test_a_forged_token_with_the_right_key_but_a_value_of_the_wrong_type_or_range_is_invalid_argument(value):
    refused(forged({"before": value}), {"before": int})


@pytest.mark.parametrize("value", [-1, INT64_MAX + 1, 10**20])
def test_an_id_position_is_never_negative_nor_beyond_int64(value):
    refused(forged({"after": value}), {"after": ID})
    assert decode_token(forged({"after": INT64_MAX}), keys={"after": ID}) == {"after": INT64_MAX}


@pytest.mark.parametrize("ms", [-1, MAX_UNIX_MS + 1, 10**20])
def test_a_time_position_is_from_1970_to_the_end_of_year_9999(ms):
    refused(forged({"time": ms}), {"time": UNIX_MS})
    assert datetime_from_ms(decode_token(forged({"time": MAX_UNIX_MS}), keys={"time": UNIX_MS})["time"]).year == 9999


def test_strings_are_bounded_and_keys_must_be_exactly_the_declared_ones():
    refused(forged({"group": "x" * 28}), {"group": Text(27)})
    refused(forged({"group": 5}), {"group": str})
    refused(forged({"before": 1, "extra": 2}), {"before": int})
    refused(forged({}), {"before": int})
    refused(forged([1]), {"before": int})
    assert decode_token(forged({"n": 3}), keys={"n": Integer(1, 3)}) == {"n": 3}
    refused(forged({"n": 4}), {"n": Integer(1, 3)})


def test_hostile_tokens_are_refused_without_decoding_them_or_blowing_the_stack():
    refused("A" * (MAX_TOKEN_LENGTH + 1), {"before": int})
    refused(base64.urlsafe_b64encode(b"[" * 700).decode(), {"before": int})  # deep nesting
    refused(base64.urlsafe_b64encode(b'{"before": ' + b"9" * 700 + b"}").decode(), {"before": int})
    refused(base64.urlsafe_b64encode(b"\xff\xfe").decode(), {"before": int})  # not UTF-8


def test_page_size_defaults_and_caps():
    assert clamp_page_size(0, default=20, maximum=100) == 20
    assert clamp_page_size(500, default=20, maximum=100) == 100
    with pytest.raises(InvalidArgument):
        clamp_page_size(-1, default=20, maximum=100)
