"""Another team's view: the post topic read raw and decoded with nothing but the generated protobuf classes."""

import uuid

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post
from services.runtime.topics import POST_EVENTS
from tests.helpers import read_topic, unique_handle


def test_post_records_decode_with_the_generated_classes_alone(system, clients):
    author = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("contr"))).user
    created = clients.post.CreatePost(
        post.CreatePostRequest(author_id=author.user_id, text="contract test ✅"), timeout=10
    ).post

    records = read_topic(system.settings, system.settings.topic(POST_EVENTS.name))
    mine = [r for r in records if r.key == str(author.user_id).encode()]
    assert len(mine) == 1
    record = mine[0]
    event = post_pb2.PostEvent.FromString(record.value)
    assert uuid.UUID(event.event_id)
    assert event.WhichOneof("payload") == "post_created"
    assert dict(record.headers)["chirp-event-type"] == b"chirp.post.v1.PostCreated"
    created.ClearField("stats")  # counts belong to reads, not to the event
    assert event.post_created.post == created
    assert event.occurred_at == created.create_time
    # Every record on the topic is a well-formed envelope with an id, a time and a type.
    for other in records:
        envelope = post_pb2.PostEvent.FromString(other.value)
        assert envelope.event_id and envelope.occurred_at.seconds > 0 and envelope.WhichOneof("payload")
