"""The typed description a projected service gives of its projection: the one place that names its topics, its
tables and how the projection is built over them. The worker, the read API, the rebuild command and the bench all
start from it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.runtime.cassandra import CassandraSession
from services.runtime.config import Settings
from services.runtime.projection.records import Projection
from services.runtime.topics import TopicSpec

# The repository of one version of a projection's tables.
R = TypeVar("R")


@dataclass(frozen=True)
class ProjectionSpec(Generic[R]):
    # The owning service: keyspace `<prefix>_<service>`, consumer group `chirp-<service>`, and its CQL migrations in
    # `services.<service>.schema`.
    service: str
    # What it consumes.
    topics: tuple[TopicSpec, ...]
    # The repository of one version: given the version's keyspace (the projected tables, which a rebuild replaces)
    # and the service's base keyspace (what every version shares).
    repository: Callable[[CassandraSession, str, str], R]
    # The projection writing into that repository. The session and settings reach what every version shares (kept
    # in the service's base keyspace, which a rebuild leaves alone) and the topic names.
    projection: Callable[[R, CassandraSession, Settings], Projection]
    # The projection a rebuild replays into, when it leaves work to one pass at the end of the replay (its
    # `replayed()`): `projection` when None.
    replay_projection: Callable[[R, CassandraSession, Settings], Projection] | None = None
    # Rebuildable into new versions (services/runtime/projection/versions.py), or one set of tables for good.
    versioned: bool = True
    # The consumer group's name, `chirp-<group>` (the service's name by default): a new name starts from the
    # beginning of every topic, as a projection that replaces another needs.
    group: str | None = None

    @property
    def schema_package(self) -> str:
        return f"services.{self.service}.schema"

    @property
    def group_name(self) -> str:
        return self.group or self.service

    def topic_names(self, settings: Settings) -> list[str]:
        return [settings.topic(topic.name) for topic in self.topics]
