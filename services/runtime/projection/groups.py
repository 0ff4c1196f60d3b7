"""A projection's consumer group, administered from outside it: the handover between versions moves the stable
group's committed offsets while no worker is a member, which Kafka allows only for an empty group.

aiokafka's admin client can describe groups and read their offsets but neither commit for a group nor delete one:
offsets are committed by a consumer that joins no group (its commit is refused while the group has members), and
a group is deleted with Kafka's DeleteGroups request (API key 42, in Kafka since 1.1), declared here.
"""

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Int16, Int32, Schema, String
from aiokafka.structs import OffsetAndMetadata

from services.runtime.config import Settings

# How often a wait for an empty group asks the group coordinator again.
POLL_SECONDS = 0.5
# Kafka's error code for a group that does not exist.
GROUP_ID_NOT_FOUND = 69


class GroupNotEmpty(RuntimeError):
    """The group still has members: its offsets cannot be moved from outside."""


async def members_of(admin: AIOKafkaAdminClient, group: str) -> int:
    """How many consumers are members of `group` now (0 for a group that does not exist)."""
    response = await admin.describe_consumer_groups([group])
    described = [g for r in response for g in r.groups if g[1] == group]
    return len(described[0][5]) if described else 0


async def wait_until_empty(admin: AIOKafkaAdminClient, group: str, timeout: float) -> None:
    """Return once `group` has no members; GroupNotEmpty after `timeout` seconds of members."""
    deadline = time.monotonic() + timeout
    while (members := await members_of(admin, group)) > 0:
        if time.monotonic() > deadline:
            raise GroupNotEmpty(f"consumer group {group} still has {members} member(s) after {timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)


async def committed_offsets(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition] | None = None
) -> dict[TopicPartition, int]:
    """The offsets `group` has committed on `partitions` (all of them by default); a partition it never committed
    on is absent."""
    committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    return {tp: meta.offset for tp, meta in committed.items() if meta is not None and meta.offset >= 0}


async def commit_offsets(settings: Settings, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` for `group` from outside it. The broker refuses (aiokafka's CommitFailedError) while the
    group has members, so a worker that joined meanwhile is never overridden."""
    if not offsets:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False, client_id=f"{group}-admin"
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()})
    finally:
        await consumer.stop()


async def delete_group(admin: AIOKafkaAdminClient, group: str) -> None:
    """Delete an empty group and its committed offsets, so that it leaves no lag behind; a missing group is fine."""
    coordinator = await admin.find_coordinator(group)
    response = await admin._send_request(_DeleteGroupsRequest([group]), coordinator)
    for name, error_code in response.results:
        if error_code not in (0, GROUP_ID_NOT_FOUND):
            raise RuntimeError(f"deleting consumer group {name} failed with Kafka error code {error_code}")


class _DeleteGroupsResponse_v0(Response):
    API_KEY = 42
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32), ("results", Array(("group_id", String("utf-8")), ("error_code", Int16)))
    )


class _DeleteGroupsRequest_v0(RequestStruct):
    API_KEY = 42
    API_VERSION = 0
    RESPONSE_TYPE = _DeleteGroupsResponse_v0
    SCHEMA = Schema(("groups_names", Array(String("utf-8"))))


class _DeleteGroupsRequest(Request[_DeleteGroupsRequest_v0]):
    API_KEY = 42

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[_DeleteGroupsRequest_v0]) -> _DeleteGroupsRequest_v0:
        return request_struct_class(self._groups)
