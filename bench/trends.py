"""The trends phase: a trends service of its own (own topics and keyspace, so it replays none of the run's load),
organic trends with 7 days of history, then, live, 500 sockpuppets posting one hashtag and a spike of 20 distinct
accounts on a new one.

- Spike detection: the first ListTrends answer (polled every POLL_SECONDS, as a client would) that ranks the tag,
  timed from the moment Kafka acknowledged the 20th account's post (negative when it trended before) and from the
  first one.
- Sockpuppets: ListTrends (top 10) is read every POLL_SECONDS from the first puppet post until SETTLE_SECONDS after
  the last; the best rank the puppets' tag ever reached is reported (none: never in the top 10).

Events are written straight to the topics with chosen times (accounts a year old, followers, the baseline days),
as the end-to-end tests do: what is measured is the projection and the read side, not CreatePost.
"""

import asyncio
import time
import uuid

import grpc
from aiokafka import TopicPartition

from bench.lag import ConsumerLag
from bench.trends_world import Publisher, World, distinct_text
from chirp.trends.v1 import trends_pb2, trends_service_pb2_grpc
from chirp.trends.v1 import trends_service_pb2 as pb
from services.runtime.clock import now_ms
from services.runtime.config import Settings
from services.runtime.schema import migrate
from services.runtime.topics import EVERY_TOPIC, GRAPH_EVENTS, POST_EVENTS, ensure_topics
from services.trends.domain import DAY_MS
from services.trends.wiring import PROJECTION

POLL_SECONDS = 0.5
# How long the spike may take to show before the phase gives up (the goal is 120 s).
DETECTION_GIVE_UP_SECONDS = 180.0
SETTLE_SECONDS = 25.0
ORGANIC_TAGS = 12
PUPPETS = 500


def trends_settings(settings: Settings, refresh_seconds: float | None = None) -> Settings:
    """The bench's settings with topics and a keyspace of the trends phase's own (dropped with the run's), and the
    ranking's refresh period when the plan chooses one (the smoke run's seconds)."""
    update = {"topic_prefix": f"{settings.topic_prefix}tr.", "keyspace_prefix": f"{settings.keyspace_prefix}_tr"}
    if refresh_seconds is not None:
        update["trends_refresh_seconds"] = refresh_seconds
    return settings.model_copy(update=update)


async def prepare(settings: Settings) -> None:
    await ensure_topics(settings)
    await migrate(settings, "trends", "services.trends.schema")


async def _caught_up(settings: Settings) -> None:
    """Once the trends projection has committed everything published to the topics it reads."""
    partitions = [
        TopicPartition(settings.topic(spec.name), p) for spec in PROJECTION.topics for p in range(spec.partitions)
    ]
    lag = ConsumerLag(settings.kafka_bootstrap)
    await lag.start()
    try:
        while await lag.of(settings.consumer_group(PROJECTION.service), partitions) > 0:
            await asyncio.sleep(0.25)
    finally:
        await lag.stop()


def env_of(settings: Settings) -> dict[str, str]:
    return {
        "CHIRP_TOPIC_PREFIX": settings.topic_prefix,
        "CHIRP_KEYSPACE_PREFIX": settings.keyspace_prefix,
        "CHIRP_TRENDS_REFRESH_SECONDS": str(settings.trends_refresh_seconds),
    }


def topics_to_drop(settings: Settings) -> list[str]:
    return [settings.topic(spec.name) for spec in EVERY_TOPIC]


async def drop_topics(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        ours = [topic for topic in topics_to_drop(settings) if topic in existing]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


async def measure(
    settings: Settings,
    address: str,
    spike_seconds: float,
    puppet_seconds: float,
    report,
    settle_seconds: float = SETTLE_SECONDS,
) -> dict:
    """Run the phase against a trends service at `address`; `report(text)` tells the progress."""
    world = World(POST_EVENTS.name, GRAPH_EVENTS.name, now=now_ms())
    organic = [f"organic{i}{uuid.uuid4().hex[:4]}" for i in range(ORGANIC_TAGS)]
    usual = f"usual{uuid.uuid4().hex[:4]}"
    regulars = world.established(40)
    for days in range(1, 8):
        for i, name in enumerate(organic):
            world.spike(name, regulars[: 1 + i % 3], end_ms=world.now - days * DAY_MS)
        world.spike(usual, regulars[:30], end_ms=world.now - days * DAY_MS)
    for i, name in enumerate(organic):
        world.spike(name, world.established(8 + i), end_ms=world.now)
    world.spike(usual, regulars[:32], end_ms=world.now)
    history = world.take()
    publisher = Publisher(settings)
    await publisher.start()
    began = time.monotonic()
    await publisher.send(history)
    report(f"trends: {len(history)} history events published")

    channel = grpc.aio.insecure_channel(address)
    stub = trends_service_pb2_grpc.TrendsServiceStub(channel)

    async def top() -> list[str]:
        try:
            answer = await stub.ListTrends(
                pb.ListTrendsRequest(kind=trends_pb2.TREND_KIND_HASHTAG, page_size=10), timeout=10
            )
        except grpc.aio.AioRpcError:
            return []
        return [trend.term for trend in answer.trends]

    try:
        # The history is projected, and a ranking computed before that is served no longer (its refresh). Waiting
        # instead for the organic tags to fill the top 10 waited out DETECTION_GIVE_UP_SECONDS whenever one of
        # them ranked 11th.
        await asyncio.wait_for(_caught_up(settings), DETECTION_GIVE_UP_SECONDS)
        history_seconds = time.monotonic() - began
        await asyncio.sleep(settings.trends_refresh_seconds)

        # Live: the puppets over puppet_seconds, the spike over spike_seconds in the middle of them.
        spam, spike = f"scam{uuid.uuid4().hex[:4]}", f"spike{uuid.uuid4().hex[:4]}"
        spikers = world.established(20)
        live_now = now_ms()
        world.now = live_now
        puppets = world.puppets(PUPPETS)
        await publisher.send(world.take())
        puppet_posts = []
        for i, puppet in enumerate(puppets):
            world.post(puppet, f"Free money now at #{spam} {i} @friend{i % 50} !!!", live_now)
            puppet_posts.append(world.take()[0])
        spike_posts = []
        for i, account in enumerate(spikers):
            world.post(account, distinct_text(i, spike), live_now)
            spike_posts.append(world.take()[0])

        best_rank: int | None = None
        detected_at: float | None = None
        spike_first = spike_last = 0.0
        polls = 0

        async def drive() -> None:
            nonlocal spike_first, spike_last
            start = time.monotonic()
            spike_start = start + max(0.0, (puppet_seconds - spike_seconds) / 2)
            events = sorted(
                [(start + puppet_seconds * i / len(puppet_posts), "p", r) for i, r in enumerate(puppet_posts)]
                + [(spike_start + spike_seconds * i / len(spike_posts), "s", r) for i, r in enumerate(spike_posts)],
                key=lambda e: e[0],
            )
            for at, kind, record in events:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                await publisher.send([_retimed(record)])
                if kind == "s":
                    if record is spike_posts[0]:
                        spike_first = time.monotonic()
                    if record is spike_posts[-1]:
                        spike_last = time.monotonic()

        driving = asyncio.create_task(drive())
        watch_began = time.monotonic()
        while True:
            ranked = await top()
            polls += 1
            if spam in ranked:
                rank = ranked.index(spam) + 1
                best_rank = rank if best_rank is None else min(best_rank, rank)
            if detected_at is None and spike in ranked and spike_first:
                detected_at = time.monotonic()
                report(f"trends: spike detected {detected_at - spike_first:.1f} s after its first post")
            settled = driving.done() and time.monotonic() - max(spike_last, watch_began) > settle_seconds
            if (settled and detected_at is not None) or time.monotonic() - watch_began > DETECTION_GIVE_UP_SECONDS:
                break
            await asyncio.sleep(POLL_SECONDS)
        await driving
        final = await top()
    finally:
        await channel.close()
        await publisher.stop()
    return {
        "history_events": len(history),
        "history_seconds": round(history_seconds, 2),
        "organic_tags": ORGANIC_TAGS,
        "organic_in_final_top10": len([name for name in organic if name in final]),
        "puppets": PUPPETS,
        "puppet_seconds": puppet_seconds,
        "puppet_best_rank": best_rank,
        "puppet_in_final_top10": spam in final,
        "spike_accounts": len(spike_posts),
        "spike_seconds": spike_seconds,
        "spike_detected": detected_at is not None,
        # Negative when it trended before the 20th account had posted.
        "detection_seconds_after_20th": round(detected_at - spike_last, 2) if detected_at else None,
        "detection_seconds_after_1st": round(detected_at - spike_first, 2) if detected_at else None,
        "polls": polls,
        "poll_seconds": POLL_SECONDS,
        "refresh_seconds": settings.trends_refresh_seconds,
    }


def _retimed(record):
    """A prepared post event, timed now: the moment it is sent is the moment it happened."""
    from chirp.post.v1 import post_pb2
    from services.runtime.clock import timestamp_from_ms
    from services.runtime.ids import first_id_at
    from services.runtime.projection.records import Record

    event = post_pb2.PostEvent.FromString(record.value)
    moment = now_ms()
    post = event.post_created.post
    post.post_id = first_id_at(moment) + post.post_id % (1 << 22)
    post.create_time.CopyFrom(timestamp_from_ms(moment))
    event.occurred_at.CopyFrom(timestamp_from_ms(moment))
    return Record(record.topic, record.partition, record.offset, record.key, event.SerializeToString())
