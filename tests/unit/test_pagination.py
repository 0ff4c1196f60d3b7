import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import clamp_page_size, decode_token, encode_token


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_a_token_decodes_to_the_position_it_encodes(position):
    assert decode_token(encode_token({"before": position}), keys=("before",)) == {"before": position}


@pytest.mark.parametrize("token", ["garbage!", "e30", encode_token({"other": 1}), "%%%"])
def test_a_token_this_api_did_not_issue_is_invalid_argument(token):
    with pytest.raises(InvalidArgument) as refused:
        decode_token(token, keys=("before",))
    assert refused.value.reason == "PAGE_TOKEN_INVALID"


def test_page_size_defaults_and_caps():
    assert clamp_page_size(0, default=20, maximum=100) == 20
    assert clamp_page_size(500, default=20, maximum=100) == 100
    with pytest.raises(InvalidArgument):
        clamp_page_size(-1, default=20, maximum=100)
