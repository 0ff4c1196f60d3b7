"""What every event envelope carries: ids that are the same for the same fact, and its payload's type name."""

import uuid

import pytest

from chirp.post.v1 import post_pb2
from services.runtime.envelopes import event_id_for, event_type_of


def test_event_ids_are_deterministic_per_fact():
    assert event_id_for("post-created", 7) == event_id_for("post-created", 7) != event_id_for("post-created", 8)
    assert uuid.UUID(event_id_for("x"))


def test_an_envelope_is_named_by_its_payload_and_one_without_a_payload_is_refused():
    liked = post_pb2.PostEvent(post_liked=post_pb2.PostLiked(post_id=1))
    assert event_type_of(liked) == "chirp.post.v1.PostLiked"
    with pytest.raises(ValueError):
        event_type_of(post_pb2.PostEvent())
