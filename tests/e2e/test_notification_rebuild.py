"""A notification projection rebuilt by replay (`chirp projections rebuild notifications`) equals the live one, keeps
what users set (preferences, read position), and then serves new notifications."""

import asyncio
import re

import grpc
from typer.testing import CliRunner

from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as notification
from services.cli.main import app as chirp
from services.runtime.cassandra import CassandraSession
from services.runtime.projection.versions import keyspace_of
from tests.e2e.test_notification_kinds import People
from tests.helpers import eventually


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
    assert len(feed_of(settings, new, ana)) == 7
    assert [(n.notification_id, n.actor_count) for n in rebuilt[1:]] == [
        (n.notification_id, n.actor_count) for n in live
    ]
    assert [n.unread for n in rebuilt] == [True, True, False, False, False]  # read up to live[1]
    assert clients.notification.GetPreferences(notification.GetPreferencesRequest(user_id=ana), timeout=10) == prefs


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
                f"SELECT create_time, group_key, actor_id, writetime(actor_id) AS written FROM {keyspace}.feed WHERE "
                "recipient_id = ?",
                (user_id,),
            )
            return [tuple(row) for row in rows]
        finally:
            session.shutdown()

    return asyncio.run(read())
