"""A notification projection rebuilt by replay (`chirp projections rebuild notifications`) equals the live one, keeps
what users set (preferences, read position), and then serves new notifications."""

import asyncio
import re

import grpc
import pytest
from typer.testing import CliRunner

from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as notification
from services.cli.launcher import running_system
from services.cli.main import app as chirp
from services.runtime.cassandra import CassandraSession
from services.runtime.projection.versions import keyspace_of
from services.runtime.topics import NOTIFICATION_EVENTS
from tests.e2e.test_notification_kinds import People
from tests.helpers import eventually, read_topic


@pytest.fixture(scope="module")
def system(infrastructure):
    """Topics of its own: a rebuild replays every event of its topics, and the session's hold every earlier test's
    (each rebuild took 60 s on them in a whole run, 13 s alone)."""
    with running_system(services=("identity", "graph", "post", "notification")) as chirp:
        yield chirp


def test_a_rebuilt_projection_equals_the_live_one_and_keeps_what_users_set(system, clients):
    settings = system.settings
    people = People(clients)
    ana, bob, cai = people.users(3)
    liked = people.post(ana, "rebuild me")
    for fan in (bob, cai):
        people.follow(fan, ana)
        people.like(fan, liked)
        people.post(fan, "hey", mentioning=(ana,))
    live = people.until(ana, lambda notes: len(notes) == 4)
    prefs = notification_pb2.NotificationPreferences(disabled_kinds=[notification_pb2.NOTIFICATION_KIND_QUOTE])
    clients.notification.UpdatePreferences(
        notification.UpdatePreferencesRequest(user_id=ana, preferences=prefs), timeout=10
    )
    clients.notification.MarkRead(
        notification.MarkReadRequest(user_id=ana, notification_id=live[1].notification_id), timeout=10
    )

    result = CliRunner().invoke(chirp, ["projections", "rebuild", "notifications"], env=system.env)
    assert result.exit_code == 0, result.output
    version = int(re.search(r"rebuilt as version (\d+)", result.output).group(1))
    old, new = settings.keyspace("notification"), keyspace_of(settings, "notification", version)
    assert old != new
    assert feed_of(settings, new, ana) == feed_of(settings, old, ana)
    # Served from the rebuilt tables (now the only ones written), with the preferences and read position kept.
    # The worker restarts itself on the new version, so the API is away for a moment.
    people.repost(bob, liked)
    rebuilt = eventually(
        lambda: unless_restarting(lambda: [n for n in [people.notifications(ana)] if len(n) == 5]), timeout=60
    )[0]
    # One row per group: the followers, the likes, two mentions, the repost.
    assert len(feed_of(settings, new, ana)) == 5
    assert [(n.notification_id, n.actor_count) for n in rebuilt[1:]] == [
        (n.notification_id, n.actor_count) for n in live
    ]
    assert [n.unread for n in rebuilt] == [True, True, False, False, False]  # read up to live[1]
    assert (
        clients.notification.GetPreferences(notification.GetPreferencesRequest(user_id=ana), timeout=10).preferences
        == prefs
    )


def test_a_rebuild_judges_each_act_by_the_preferences_of_its_time(system, clients):
    """Likes off, a like, likes on, a like: the rebuild keeps the first like out, as the live run did. Preferences
    stored before they were events (no PreferencesUpdated, as a user who set them before this change) still hold
    for the whole history."""
    settings = system.settings
    people = People(clients)
    ana, bob, cai, dan, eve = people.users(5)
    liked, dans = people.post(ana, "like me"), people.post(dan, "like me too")
    likes_off = notification_pb2.NotificationPreferences(disabled_kinds=[notification_pb2.NOTIFICATION_KIND_LIKE])
    update = clients.notification.UpdatePreferences
    update(notification.UpdatePreferencesRequest(user_id=ana, preferences=likes_off), timeout=10)
    people.like(bob, liked)  # while ana had likes off
    update(
        notification.UpdatePreferencesRequest(user_id=ana, preferences=notification_pb2.NotificationPreferences()),
        timeout=10,
    )
    people.like(cai, liked)
    # Each change is on the notification topic, keyed by the user, with what it replaced.
    published = [
        (notification_pb2.NotificationEvent.FromString(r.value), dict(r.headers)["chirp-event-type"])
        for r in read_topic(settings, settings.topic(NOTIFICATION_EVENTS.name))
        if r.key == str(ana).encode()
    ]
    assert [
        (list(e.preferences_updated.preferences.disabled_kinds), list(e.preferences_updated.previous.disabled_kinds))
        for e, _ in published
    ] == [([notification_pb2.NOTIFICATION_KIND_LIKE], []), ([], [notification_pb2.NOTIFICATION_KIND_LIKE])]
    assert {header for _, header in published} == {b"chirp.notification.v1.PreferencesUpdated"}
    set_before_events(settings, dan, {notification_pb2.NOTIFICATION_KIND_LIKE})
    people.like(eve, dans)
    people.post(eve, "so dan hears of something", mentioning=(dan,))
    [live] = people.until(ana, lambda notes: len(notes) == 1)
    assert (live.actor_id, live.actor_count) == (cai, 1)
    assert [n.kind for n in people.until(dan, lambda notes: len(notes) == 1)] == [
        notification_pb2.NOTIFICATION_KIND_MENTION
    ]

    result = CliRunner().invoke(chirp, ["projections", "rebuild", "notifications"], env=system.env)
    assert result.exit_code == 0, result.output
    version = int(re.search(r"rebuilt as version (\d+)", result.output).group(1))
    new = keyspace_of(settings, "notification", version)
    assert [(row[1], row[2]) for row in feed_of(settings, new, ana)] == [(live.group_key, cai)]
    assert [row[1].split(":")[0] for row in feed_of(settings, new, dan)] == ["mention"]
    people.post(bob, "after the rebuild", mentioning=(ana,))
    rebuilt = eventually(
        lambda: unless_restarting(lambda: [n for n in [people.notifications(ana)] if len(n) == 2]), timeout=60
    )[0]
    assert [(n.notification_id, n.actor_count) for n in rebuilt[1:]] == [(live.notification_id, 1)]


def set_before_events(settings, user_id: int, disabled: set[int]) -> None:
    """Preferences as UpdatePreferences stored them before it published PreferencesUpdated: a row, no time."""

    async def write():
        session = await CassandraSession.connect(settings)
        try:
            await session.execute(
                f"INSERT INTO {settings.keyspace('notification')}.preferences (user_id, disabled_kinds, only_following)"
                " VALUES (?, ?, ?)",
                (user_id, disabled, False),
            )
        finally:
            session.shutdown()

    asyncio.run(write())


def unless_restarting(read):
    try:
        return read()
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return None


def feed_of(settings, keyspace: str, user_id: int) -> list[tuple]:
    """A recipient's feed rows with their write times: a replay writes the same cells at the same times."""

    async def read():
        session = await CassandraSession.connect(settings)
        try:
            rows = await session.execute(
                f"SELECT create_time, group_key, actor_id, writetime(actor_id) AS written FROM {keyspace}.group_feed"
                " WHERE recipient_id = ?",
                (user_id,),
            )
            return [tuple(row) for row in rows]
        finally:
            session.shutdown()

    return asyncio.run(read())
