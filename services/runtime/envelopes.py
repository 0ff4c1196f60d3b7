"""What every event envelope carries so that consumers can deduplicate and tell events apart: a deterministic id
and, in a header, the full name of its payload's type."""

import uuid

from google.protobuf.message import Message

EVENT_TYPE_HEADER = "chirp-event-type"
CONTENT_TYPE = ("content-type", b"application/x-protobuf")

# Namespace of Chirp's name-based event ids (UUIDv5): the same fact always gets the same id, so a retried
# publication is recognised as a duplicate by every consumer.
_EVENT_NAMESPACE = uuid.UUID("6f6b4c1e-2b1d-4c1a-9a53-63686972702e")


def event_id_for(*fact: object) -> str:
    """A deterministic event id for a fact, e.g. event_id_for("post-created", 42)."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, ":".join(str(part) for part in fact)))


def event_type_of(envelope: Message) -> str:
    """Full protobuf name of the payload an envelope carries, e.g. `chirp.post.v1.PostCreated`."""
    case = envelope.WhichOneof("payload")
    if case is None:
        raise ValueError(f"{envelope.DESCRIPTOR.full_name} has no payload")
    return getattr(envelope, case).DESCRIPTOR.full_name
