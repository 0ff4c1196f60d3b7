"""A record the timeline cannot apply goes to the dead-letter topic with where it came from; its partition moves on.
`chirp deadletters list` shows it, and `chirp deadletters replay` applies a letter again once it can be applied."""

import asyncio
import json
import time

from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli.main import app as chirp
from services.runtime.clock import timestamp_from_ms
from services.runtime.envelopes import event_id_for
from services.runtime.projection import dead_letters
from services.runtime.topics import DEAD_LETTERS, POST_EVENTS
from tests.helpers import eventually, read_topic, unique_handle

GARBAGE = b"\xff\xff\xff not a PostEvent"


def publish(settings, topic: str, key: bytes, value: bytes = GARBAGE, headers=None):
    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            return await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()

    return asyncio.run(run())


def test_a_garbage_record_is_dead_lettered_with_its_origin_and_later_posts_still_fan_out(system, clients):
    author = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("poison")), timeout=10).user.user_id
    post_topic = system.settings.topic(POST_EVENTS.name)
    # Same key as the author's posts: the same partition, so the post after it proves the partition moved on.
    garbage = publish(system.settings, post_topic, str(author).encode())
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


def deadletters(system, *args: str):
    return CliRunner().invoke(chirp, ["deadletters", *args], env=system.env)


def test_dead_letters_are_listed_and_replayed_into_the_projection_that_set_them_aside(system, clients):
    settings = system.settings
    author = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle("mended")), timeout=10).user.user_id
    liked = clients.post.CreatePost(post.CreatePostRequest(author_id=author, text="like me later"), timeout=10).post

    def likes() -> list[int]:
        request = timeline.GetHomeTimelineRequest(user_id=author)
        return [p.stats.like_count for p in clients.timeline.GetHomeTimeline(request, timeout=10).posts]

    assert eventually(lambda: likes() == [0], timeout=30)
    # A like the timeline set aside, as it would have after failing on it (a bug since fixed, say).
    like = post_pb2.PostEvent(
        event_id=event_id_for("dead-letter-test", liked.post_id),
        occurred_at=timestamp_from_ms(int(time.time() * 1000)),
        post_liked=post_pb2.PostLiked(post_id=liked.post_id, author_id=author, user_id=author + 1),
    )
    post_topic = settings.topic(POST_EVENTS.name)
    mended = publish(
        settings,
        settings.topic(DEAD_LETTERS.name),
        f"{post_topic}:0".encode(),
        like.SerializeToString(),
        [
            (dead_letters.ERROR_HEADER, b"RuntimeError('a bug since fixed')"),
            (dead_letters.PROJECTION_HEADER, b"timeline"),
            (dead_letters.SOURCE_TOPIC_HEADER, post_topic.encode()),
            (dead_letters.SOURCE_PARTITION_HEADER, b"0"),
            (dead_letters.SOURCE_OFFSET_HEADER, b"12345"),
            (dead_letters.SOURCE_KEY_HEADER, str(author).encode()),
        ],
    )
    garbage = publish(settings, post_topic, str(author).encode())

    def listed():
        result = deadletters(system, "list", "--projection", "timeline", "--json")
        assert result.exit_code == 0, result.output
        by_source = {(d["source"]["topic"], d["source"]["offset"]): d for d in json.loads(result.output)}
        return by_source if (post_topic, garbage.offset) in by_source else None

    letters = eventually(listed, timeout=30)
    assert letters[(post_topic, 12345)] == {
        "offset": mended.offset,
        "time": letters[(post_topic, 12345)]["time"],
        "projection": "timeline",
        "source": {"topic": post_topic, "partition": 0, "offset": 12345},
        "key": str(author),
        "error": "RuntimeError('a bug since fixed')",
    }
    unreadable = letters[(post_topic, garbage.offset)]
    assert "UndecodableRecord" in unreadable["error"]

    replayed = deadletters(system, "replay", "--offset", str(mended.offset))
    assert replayed.exit_code == 0, replayed.output
    assert f"{mended.offset}: applied to timeline" in replayed.output
    assert "1 of 1 dead letters applied" in replayed.output
    assert eventually(lambda: likes() == [1], timeout=30)
    # Idempotent: again, and the count stays.
    assert deadletters(system, "replay", "--offset", str(mended.offset)).exit_code == 0
    assert likes() == [1]

    still = deadletters(system, "replay", "--projection", "timeline", "--offset", str(unreadable["offset"]))
    assert still.exit_code == 1
    assert "timeline failed again: UndecodableRecord" in still.output and "0 of 1" in still.output
    unknown = deadletters(system, "list", "--projection", "nope")
    assert unknown.exit_code == 2 and "'nope' is not a projection" in unknown.output
