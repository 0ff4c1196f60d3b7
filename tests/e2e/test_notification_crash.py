"""The notification worker killed with SIGKILL under load: afterwards nothing is missing and nothing is twice."""

import threading
from concurrent.futures import ThreadPoolExecutor

from chirp.post.v1 import post_service_pb2 as post
from services.notification.domain import LIKE, REPOST
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from tests.e2e.test_notification_kinds import People
from tests.helpers import committed_offsets, end_offsets

ACTORS = 60
KILL_AFTER = 30


def backlog(system) -> int:
    """Events in the log that the notification consumer group has not committed."""
    group = system.settings.consumer_group("notification")
    behind = 0
    for spec in (POST_EVENTS, GRAPH_EVENTS):
        topic = system.settings.topic(spec.name)
        committed = committed_offsets(system.settings, group, topic)
        behind += sum(end - committed.get(p, 0) for p, end in end_offsets(system.settings, topic).items())
    return behind


def test_killing_the_notification_worker_under_load_loses_and_doubles_nothing(system, clients):
    people = People(clients)
    followed, author, mentioned = people.users(3, "crash")
    liked = people.post(author, "popular")
    actors = people.users(ACTORS, "load")
    unliking = set(actors[::4])
    done, lock, backlog_at_kill = 0, threading.Lock(), []

    def act(actor: int) -> None:
        """Four or five events: a follow, a like, a mention, a repost, and for some an unlike."""
        nonlocal done
        people.follow(actor, followed)
        people.like(actor, liked)
        people.post(actor, "load", mentioning=(mentioned,))
        people.repost(actor, liked)
        if actor in unliking:
            clients.post.UnlikePost(post.UnlikePostRequest(post_id=liked, user_id=actor), timeout=10)
        with lock:
            done += 1
            if done == KILL_AFTER:
                system.kill("notification")
                backlog_at_kill.append(backlog(system))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(act, actors))
    assert backlog_at_kill and backlog_at_kill[0] > 0, "the kill landed after everything was committed"
    system.start("notification")

    [follows] = people.until(followed, lambda notes: len(notes) == 1 and notes[0].actor_count == ACTORS, timeout=90)
    assert sorted(people.actors(followed, follows.notification_id)) == sorted(actors)
    mentions = people.until(mentioned, lambda notes: len(notes) >= ACTORS, timeout=60)
    assert sorted(n.actor_id for n in mentions) == sorted(actors), "a mention is missing or twice"
    expected = {LIKE: ACTORS - len(unliking), REPOST: ACTORS}
    reactions = people.until(author, lambda notes: {n.kind: n.actor_count for n in notes} == expected, timeout=60)
    assert len(reactions) == 2
    print(f"backlog at the kill: {backlog_at_kill[0]} events")
