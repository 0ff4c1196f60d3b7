"""What a refusal may carry: a short message and short metadata, whatever the input it quotes."""

import re

import grpc
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.errors import (
    MAX_MESSAGE_LENGTH,
    MAX_METADATA_VALUE_LENGTH,
    InvalidArgument,
    NotFound,
    shortened,
)


def test_a_short_message_and_metadata_are_kept_as_they_are():
    error = NotFound("USER_NOT_FOUND", "there is no user with id 42", user_id="42")
    assert error.message == str(error) == "there is no user with id 42"
    assert error.metadata == {"user_id": "42"}


def test_a_message_quoting_huge_input_keeps_its_start_and_its_rule():
    handle = "é" * 100_000
    error = InvalidArgument(
        "HANDLE_INVALID",
        f"handle {handle!r} is not allowed: use 1 to 15 letters (A-Z), digits or underscores",
        handle=handle,
    )
    assert len(error.message) <= MAX_MESSAGE_LENGTH
    assert error.message.startswith("handle 'ééé")
    assert error.message.endswith("is not allowed: use 1 to 15 letters (A-Z), digits or underscores")
    assert "characters left out" in error.message
    assert len(error.metadata["handle"]) == MAX_METADATA_VALUE_LENGTH
    assert error.metadata["handle"].startswith("ééé") and error.metadata["handle"].endswith("…")


def test_the_status_a_huge_input_makes_fits_well_in_a_trailer():
    error = InvalidArgument("X", "x" * 10**6 + "\u202e" * 10**5, a="😷" * 10**5, b="y" * 10**5)
    status = error.to_status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    trailer = sum(len(key) + len(value) for key, value in status.trailing_metadata)
    assert trailer < 4096


@given(st.text(max_size=2000), st.integers(10, 1000))
def test_shortened_is_within_the_limit_and_keeps_both_ends(text, limit):
    short = shortened(text, limit)
    assert len(short) <= limit
    if len(text) <= limit:
        assert short == text
    elif (cut := re.fullmatch(r"(.*)…\[([\d,]+) characters left out\]…(.*)", short, re.DOTALL)) is None:
        assert short == text[: limit - 1] + "…"  # no room for a note
    else:
        head, left_out, tail = cut.groups()
        assert text.startswith(head) and text.endswith(tail) and head and tail
        assert len(head) + int(left_out.replace(",", "")) + len(tail) == len(text)
