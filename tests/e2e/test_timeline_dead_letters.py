"""A record the timeline cannot apply goes to the dead-letter topic with where it came from; its partition moves on."""

import asyncio

from aiokafka import AIOKafkaProducer

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.runtime.topics import DEAD_LETTERS, POST_EVENTS
from tests.helpers import eventually, read_topic, unique_handle

GARBAGE = b"\xff\xff\xff not a PostEvent"


def publish_garbage(settings, topic: str, key: bytes):
    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            return await producer.send_and_wait(topic, value=GARBAGE, key=key)
        finally:
            await producer.stop()

    return asyncio.run(run())


def test_a_garbage_record_is_dead_lettered_with_its_origin_and_later_posts_still_fan_out(system, clients):
    author = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("poison")), timeout=10).user.user_id
    post_topic = system.settings.topic(POST_EVENTS.name)
    # Same key as the author's posts: the same partition, so the post after it proves the partition moved on.
    garbage = publish_garbage(system.settings, post_topic, str(author).encode())
    after = clients.post.CreatePost(post.CreatePostRequest(author_id=author, text="after the garbage"), timeout=10).post

    def timeline_dead_letters():
        letters = read_topic(system.settings, system.settings.topic(DEAD_LETTERS.name))
        return [
            dict(r.headers) | {"value": r.value, "key": r.key}
            for r in letters
            if dict(r.headers).get("chirp-dead-letter-projection") == b"timeline"
        ]

    letter = next(
        h
        for h in eventually(timeline_dead_letters, timeout=30)
        if h["chirp-source-offset"] == str(garbage.offset).encode()
    )
    assert letter["chirp-source-topic"] == post_topic.encode()
    assert letter["chirp-source-partition"] == str(garbage.partition).encode()
    assert letter["key"] == f"{post_topic}:{garbage.partition}".encode()
    assert letter["value"] == GARBAGE
    assert b"UndecodableRecord" in letter["chirp-dead-letter-error"]

    def own_home():
        return [
            p.post_id
            for p in clients.timeline.GetHomeTimeline(timeline.GetHomeTimelineRequest(user_id=author), timeout=10).posts
        ]

    assert eventually(lambda: own_home() == [after.post_id], timeout=30)
