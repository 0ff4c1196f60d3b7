"""Text rules of issue 2: NFC, non-blank, at most 140 code points; mentions."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.post.text import MAX_LENGTH, MAX_NOTIFIED_MENTIONS, extract_mentions, normalize_and_validate
from services.runtime.errors import InvalidArgument


@given(st.text(min_size=1, max_size=MAX_LENGTH).filter(lambda t: t.strip()))
def test_any_non_blank_text_that_stays_within_140_after_nfc_is_accepted_as_its_nfc_form(text):
    normalized = unicodedata.normalize("NFC", text)
    if len(normalized) <= MAX_LENGTH:
        assert normalize_and_validate(text) == normalized


@given(st.text(min_size=MAX_LENGTH + 1, max_size=400))
def test_text_longer_than_140_after_nfc_is_refused_naming_its_length(text):
    normalized = unicodedata.normalize("NFC", text)
    if len(normalized) > MAX_LENGTH and normalized.strip():
        with pytest.raises(InvalidArgument) as refused:
            normalize_and_validate(text)
        assert refused.value.reason == "TEXT_TOO_LONG"
        assert f"this one has {len(normalized)}" in refused.value.message


def test_decomposed_accents_count_once_after_nfc():
    decomposed = "e\u0301" * MAX_LENGTH  # 280 code points, 140 after NFC
    assert normalize_and_validate(decomposed) == "é" * MAX_LENGTH


@given(st.text(alphabet=" \t\n\r\u00a0\u2003", max_size=20))
def test_blank_text_is_refused(text):
    with pytest.raises(InvalidArgument) as refused:
        normalize_and_validate(text)
    assert refused.value.reason == "TEXT_EMPTY"


def test_mentions_are_found_with_code_point_spans():
    text = "ciao @Anna e ＠bob_2, non@email né @@doppio"
    mentions = extract_mentions(text)
    assert [(m.handle, m.start, m.end) for m in mentions] == [("Anna", 5, 10), ("bob_2", 13, 19)]
    assert [text[m.start : m.end] for m in mentions] == ["@Anna", "＠bob_2"]


def test_a_handle_mentioned_twice_counts_once_whatever_its_case():
    assert [m.handle for m in extract_mentions("@ana @ANA @Ana")] == ["ana"]


def test_at_most_ten_mentions_are_kept_in_order():
    text = " ".join(f"@user{i}" for i in range(15))
    assert [m.handle for m in extract_mentions(text)] == [f"user{i}" for i in range(MAX_NOTIFIED_MENTIONS)]


def test_a_mention_longer_than_fifteen_characters_is_not_a_mention():
    assert extract_mentions("@abcdefghijklmnop") == []
