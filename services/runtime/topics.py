"""Every Kafka topic of Chirp, declared once: name, partitions, retention, key and what its records hold."""

from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.runtime.config import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    value_type: str
    description: str
    # Kafka topic-level configuration. Event topics keep everything: the log is the source of truth and every
    # projection must be rebuildable by replaying it from the beginning.
    config: dict[str, str] = field(default_factory=lambda: {"cleanup.policy": "delete", "retention.ms": "-1"})


POST_EVENTS = TopicSpec(
    name="chirp.post.events.v1",
    partitions=6,
    key="author user id (decimal string): one author's events stay in order",
    value_type="chirp.post.v1.PostEvent",
    description="Everything that happens to posts.",
)

GRAPH_EVENTS = TopicSpec(
    name="chirp.graph.events.v1",
    partitions=6,
    key=(
        "acting user id (decimal string): the new or updated user, the follower, the blocker, the muter, the filter's"
        " owner"
    ),
    value_type="chirp.graph.v1.GraphEvent",
    description="Accounts, follow relationships, blocks, mutes and filters.",
)

NOTIFICATION_EVENTS = TopicSpec(
    name="chirp.notification.events.v1",
    partitions=6,
    key="the user concerned (decimal string): one user's changes stay in order",
    value_type="chirp.notification.v1.NotificationEvent",
    description=(
        "What users set in the notification service: their preferences, each change published after it was stored. "
        "The notification projection reads it back to judge every act by the preferences of its time."
    ),
)

GRAPH_COUNTS = TopicSpec(
    name="chirp.graph.counts.v1",
    partitions=6,
    key="the followee's user id (decimal string): one consumer at a time counts each user's followers",
    value_type="chirp.graph.v1.CountEvent",
    description=(
        "The follows and unfollows of chirp.graph.events.v1 again, keyed by the followee instead of the follower: "
        "written by the graph service's count projection (services/graph/counts.py), which counts each user's "
        "followers from it with a single writer per user. Derived, not a source: every other consumer of follows "
        "reads chirp.graph.events.v1. Kept as long as the event topics, so that a projection that falls behind "
        "never finds records gone."
    ),
)

ALL_TOPICS = (POST_EVENTS, GRAPH_EVENTS, NOTIFICATION_EVENTS, GRAPH_COUNTS)

DEAD_LETTERS = TopicSpec(
    name="chirp.deadletter.v1",
    partitions=1,
    key="source topic and partition, `<topic>:<partition>`: one partition's dead letters stay in order",
    value_type="the failed record's original bytes, unchanged",
    description=(
        "Records a projection could not apply after its attempts, set aside so their partition moves on. Headers: "
        "chirp-dead-letter-error, chirp-dead-letter-projection, chirp-source-topic, chirp-source-partition, "
        "chirp-source-offset, chirp-source-key. Created by setup like the event topics, so that workers need no right "
        "to create topics; not an event topic."
    ),
)

# What setup (`chirp admin setup`) creates: the event topics and the dead letters.
EVERY_TOPIC = (*ALL_TOPICS, DEAD_LETTERS)


async def partitions_of(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of `topics`, in order, from the broker's metadata; ValueError for a topic that does not
    exist (a consumer subscribed to it would wait for ever)."""
    metadata = await consumer._client.fetch_all_metadata()
    found: list[TopicPartition] = []
    for topic in topics:
        partitions = metadata.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"topic {topic} does not exist")
        found.extend(TopicPartition(topic, p) for p in sorted(partitions))
    return found


async def ensure_topics(settings: Settings, specs=EVERY_TOPIC) -> list[str]:
    """Create the topics that do not exist yet; leave existing ones alone. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="chirp-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if settings.topic(spec.name) not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=settings.topic(spec.name),
                        num_partitions=spec.partitions,
                        replication_factor=settings.kafka_replication_factor,
                        topic_configs=spec.config,
                    )
                    for spec in missing
                ]
            )
        created = [settings.topic(spec.name) for spec in missing]
        log.info("topics.ensured", created=created, existing=sorted(existing & {settings.topic(s.name) for s in specs}))
        return created
    finally:
        await admin.close()
