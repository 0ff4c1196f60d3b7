"""Notifications end to end: each kind, grouping, retractions, blocks and mutes at the time of the event,
preferences, the mention cap, pages, unread counts and the CLI.

A notification that must NOT appear is checked after a later event on the same Kafka partition (the same author
for post events, the same acting user for graph events) has been projected: the partition is applied in order,
so by then the earlier event was too.
"""

import asyncio
import json
import uuid

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as notification
from chirp.post.v1 import post_service_pb2 as post
from services.notification.domain import LIKE, MENTION, NEW_FOLLOWER, QUOTE, REPLY, REPOST
from services.runtime.clock import timestamp_from_ms
from services.runtime.kafka import EventPublisher
from services.runtime.topics import GRAPH_EVENTS
from tests.e2e.test_follow_post_read import chirp
from tests.helpers import eventually, unique_handle


def summary_of(notes) -> set[tuple[int, int, int]]:
    return {(n.kind, n.actor_id, n.actor_count) for n in notes}


class People:
    """Creates users and acts for them through the services' gRPC APIs."""

    def __init__(self, clients) -> None:
        self.c = clients
        self.handles: dict[int, str] = {}

    def user(self, stem: str = "user", handle: str = "") -> int:
        request = graph.CreateUserRequest(handle=handle or unique_handle(stem))
        created = self.c.graph.CreateUser(request, timeout=10).user
        self.handles[created.user_id] = created.handle
        return created.user_id

    def users(self, count: int, stem: str = "user") -> list[int]:
        return [self.user(stem) for _ in range(count)]

    def post(self, author: int, text: str = "hello", mentioning: tuple[int, ...] = (), **fields) -> int:
        text = " ".join([text, *(f"@{self.handles[u]}" for u in mentioning)])
        return self.c.post.CreatePost(
            post.CreatePostRequest(author_id=author, text=text, **fields), timeout=10
        ).post.post_id

    def follow(self, follower: int, followee: int) -> None:
        self.c.graph.FollowUser(graph.FollowUserRequest(follower_id=follower, followee_id=followee), timeout=10)

    def like(self, user: int, post_id: int) -> None:
        self.c.post.LikePost(post.LikePostRequest(post_id=post_id, user_id=user), timeout=10)

    def repost(self, user: int, post_id: int) -> None:
        self.c.post.RepostPost(post.RepostPostRequest(post_id=post_id, user_id=user), timeout=10)

    def notifications(self, user: int, kind: int = 0, page_size: int = 100) -> list:
        """Every notification of `user`, following page tokens to the end."""
        found, token = [], ""
        while True:
            page = self.c.notification.ListNotifications(
                notification.ListNotificationsRequest(user_id=user, page_size=page_size, page_token=token, kind=kind),
                timeout=10,
            )
            found.extend(page.notifications)
            token = page.next_page_token
            if not token:
                return found

    def summary(self, user: int) -> set[tuple[int, int, int]]:
        """(kind, newest actor, group size) of each notification."""
        return summary_of(self.notifications(user))

    def until(self, user: int, expected, timeout: float = 10) -> list:
        """Wait until `expected(notifications)` holds; return the notifications."""

        def check():
            notes = self.notifications(user)
            return (notes,) if expected(notes) else None  # a tuple, truthy even when the list is empty

        return eventually(check, timeout=timeout)[0]

    def actors(self, user: int, notification_id: str) -> list[int]:
        request = notification.ListNotificationActorsRequest(
            user_id=user, notification_id=notification_id, page_size=100
        )
        return [a.user_id for a in self.c.notification.ListNotificationActors(request, timeout=10).actors]


def kinds_of(notes) -> list[tuple[int, int]]:
    return sorted((n.kind, n.actor_id) for n in notes)


def test_each_kind_reaches_the_right_person_and_nobody_hears_of_their_own_act(clients):
    people = People(clients)
    ana, bob, cai = people.users(3)
    people.follow(bob, ana)
    original = people.post(ana, "an original", mentioning=(ana,))
    people.post(bob, "hi", mentioning=(cai,))
    people.post(bob, "a reply", in_reply_to_post_id=original)
    people.post(bob, "a quote", quoted_post_id=original)
    people.like(ana, original)
    people.like(bob, original)
    people.repost(bob, original)

    expected = sorted([(NEW_FOLLOWER, bob), (REPLY, bob), (QUOTE, bob), (LIKE, bob), (REPOST, bob)])
    notes = people.until(ana, lambda notes: kinds_of(notes) == expected)
    assert all(n.actor_handle == people.handles[bob] and n.actor_count == 1 for n in notes)
    assert {n.kind: n.post_text for n in notes}[LIKE].startswith("an original")
    [mention] = people.until(cai, lambda notes: notes)
    assert (mention.kind, mention.actor_id) == (MENTION, bob)
    # Bob acted on everything and is told of nothing.
    assert people.notifications(bob) == []


def test_likes_reposts_and_followers_group_into_one_notification_each(clients, system):
    people = People(clients)
    ana, *fans = people.users(4)
    first = people.post(ana, "group me")
    for fan in fans:
        people.like(fan, first)
        people.follow(fan, ana)
    for fan in fans[:2]:
        people.repost(fan, first)
    newest = fans[-1]
    notes = people.until(
        ana, lambda notes: {(LIKE, newest, 3), (NEW_FOLLOWER, newest, 3), (REPOST, fans[1], 2)} == summary_of(notes)
    )
    assert len(notes) == 3
    like = next(n for n in notes if n.kind == LIKE)
    assert people.actors(ana, like.notification_id) == fans[::-1]
    shown = json.loads(chirp(system, "notifications", "--as", people.handles[ana], "--json", "--kind", "like"))
    assert [(s["kind"], s["actor"], s["actors"]) for s in shown] == [("like", people.handles[newest], 3)]


def test_retractions_take_back_what_they_caused(clients):
    people = People(clients)
    ana, bob, cai, dan = people.users(4)
    liked = people.post(ana, "liked")
    for fan in (bob, cai):
        people.like(fan, liked)
        people.repost(fan, liked)
        people.follow(fan, ana)
    reply = people.post(dan, "a reply that goes", in_reply_to_post_id=liked, mentioning=(bob,))
    people.until(
        ana,
        lambda notes: {(LIKE, cai, 2), (REPOST, cai, 2), (NEW_FOLLOWER, cai, 2), (REPLY, dan, 1)} == summary_of(notes),
    )
    people.until(bob, lambda notes: kinds_of(notes) == [(MENTION, dan)])

    clients.post.UnlikePost(post.UnlikePostRequest(post_id=liked, user_id=cai), timeout=10)
    clients.post.UndoRepost(post.UndoRepostRequest(post_id=liked, user_id=bob), timeout=10)
    clients.graph.UnfollowUser(graph.UnfollowUserRequest(follower_id=cai, followee_id=ana), timeout=10)
    clients.post.DeletePost(post.DeletePostRequest(post_id=reply, user_id=dan), timeout=10)
    # The newest liker took it back: the group shows the one before, where that like put it.
    people.until(ana, lambda notes: {(LIKE, bob, 1), (REPOST, cai, 1), (NEW_FOLLOWER, bob, 1)} == summary_of(notes))
    people.until(bob, lambda notes: notes == [])

    clients.post.DeletePost(post.DeletePostRequest(post_id=liked, user_id=ana), timeout=10)
    people.until(ana, lambda notes: kinds_of(notes) == [(NEW_FOLLOWER, bob)])


def test_blocks_and_mutes_count_as_they_stood_when_the_act_happened(clients):
    people = People(clients)
    ana, bob, cai, witness = people.users(4)
    clients.graph.BlockUser(graph.BlockUserRequest(blocker_id=ana, blocked_id=bob), timeout=10)
    people.post(bob, "blocked", mentioning=(ana, witness))
    clients.graph.MuteUser(graph.MuteUserRequest(muter_id=ana, muted_id=cai), timeout=10)
    people.post(cai, "muted", mentioning=(ana, witness))
    people.until(witness, lambda notes: len(notes) == 2)
    assert people.notifications(ana) == []

    clients.graph.UnmuteUser(graph.UnmuteUserRequest(muter_id=ana, muted_id=cai), timeout=10)
    clients.graph.UnblockUser(graph.UnblockUserRequest(blocker_id=ana, blocked_id=bob), timeout=10)
    people.post(cai, "unmuted", mentioning=(ana,))
    people.post(bob, "unblocked", mentioning=(ana,))
    notes = people.until(ana, lambda notes: len(notes) == 2)
    # What happened while muted or blocked stays untold.
    assert sorted(n.post_text.split()[0] for n in notes) == ["unblocked", "unmuted"]


def test_preferences_turn_kinds_off_and_can_ask_for_people_followed_only(clients, system):
    people = People(clients)
    ana, bob, cai = people.users(3)
    handle = people.handles[ana]
    shown = json.loads(
        chirp(system, "notifications", "prefs", "--as", handle, "--off", "like", "--only-following", "--json")
    )
    assert shown == {
        "on": ["new_follower", "mention", "reply", "repost", "quote"],
        "off": ["like"],
        "only_following": True,
    }
    people.follow(ana, cai)
    liked = people.post(ana, "prefs")
    people.like(cai, liked)
    people.repost(bob, liked)
    people.repost(cai, liked)
    people.until(ana, lambda notes: kinds_of(notes) == [(REPOST, cai)])
    assert people.summary(ana) == {(REPOST, cai, 1)}

    prefs = notification_pb2.NotificationPreferences(disabled_kinds=[REPOST])
    request = notification.UpdatePreferencesRequest(user_id=ana, preferences=prefs, request_id=f"prefs-{ana}")
    assert clients.notification.UpdatePreferences(request, timeout=10).preferences == prefs
    assert clients.notification.UpdatePreferences(request, timeout=10).preferences == prefs
    assert (
        clients.notification.GetPreferences(notification.GetPreferencesRequest(user_id=ana), timeout=10).preferences
        == prefs
    )
    people.like(bob, liked)
    people.until(ana, lambda notes: (LIKE, bob) in kinds_of(notes))


def test_only_the_first_mentioned_users_up_to_the_cap_are_notified(clients, system):
    people = People(clients)
    cap = system.settings.max_notified_mentions
    author = people.user()
    # Short handles, so that cap + 2 mentions fit in one post.
    mentioned = [people.user(handle=f"m{uuid.uuid4().hex[:7]}") for _ in range(cap + 2)]
    people.post(author, "crowd", mentioning=tuple(mentioned))
    for user in mentioned[:cap]:
        people.until(user, lambda notes: kinds_of(notes) == [(MENTION, author)])
    assert all(people.notifications(user) == [] for user in mentioned[cap:])


def test_pages_kinds_unread_counts_and_marking_read(clients, system):
    people = People(clients)
    ana, *others = people.users(6)
    for other in others:
        people.post(other, "page", mentioning=(ana,))
    people.follow(others[0], ana)
    people.follow(others[0], ana)  # a repeated follow publishes the same event again: still one follower
    everything = people.until(ana, lambda notes: len(notes) == 6)
    assert [n.create_time.ToMilliseconds() for n in everything] == sorted(
        (n.create_time.ToMilliseconds() for n in everything), reverse=True
    )
    assert [n.notification_id for n in people.notifications(ana, page_size=2)] == [
        n.notification_id for n in everything
    ]
    assert [n.kind for n in people.notifications(ana, kind=NEW_FOLLOWER)] == [NEW_FOLLOWER]
    assert people.summary(ana) >= {(NEW_FOLLOWER, others[0], 1)}

    def unread():
        return clients.notification.GetUnreadCount(
            notification.GetUnreadCountRequest(user_id=ana), timeout=10
        ).unread_count

    assert unread() == 6
    third = everything[2]
    marked = clients.notification.MarkRead(
        notification.MarkReadRequest(user_id=ana, notification_id=third.notification_id, request_id=f"read-{ana}"),
        timeout=10,
    )
    assert marked.read_up_to == third.notification_id
    assert unread() == 2
    assert [n.unread for n in people.notifications(ana)] == [True, True, False, False, False, False]
    # The position never moves back.
    clients.notification.MarkRead(
        notification.MarkReadRequest(user_id=ana, notification_id=everything[-1].notification_id), timeout=10
    )
    assert unread() == 2
    assert "0 unread" in chirp(system, "notifications", "read", "--as", people.handles[ana])
    table = chirp(system, "notifications", "--as", people.handles[ana])
    assert "followed you" in table and "mentioned you" in table


def test_a_block_projected_after_the_acts_that_followed_it_takes_them_back(clients, system):
    """The graph partition lagging the post partition, simulated: a block that happened before a mention reaches the
    graph topic only after the mention was notified. Once projected, the mention is taken back; a mention from
    before the block stays."""
    people = People(clients)
    ana, bob = people.users(2)
    people.post(bob, "before", mentioning=(ana,))
    people.post(bob, "after", mentioning=(ana,))
    [after, before] = people.until(ana, lambda notes: len(notes) == 2)
    blocked_at = timestamp_from_ms((before.create_time.ToMilliseconds() + after.create_time.ToMilliseconds()) // 2)
    late_block = graph_pb2.GraphEvent(
        event_id=str(uuid.uuid4()),
        occurred_at=blocked_at,
        user_blocked=graph_pb2.UserBlocked(blocker_id=ana, blocked_id=bob),
    )

    async def publish() -> None:
        publisher = EventPublisher(system.settings.kafka_bootstrap, "late-block-test")
        await publisher.start()
        try:
            await publisher.publish(system.settings.topic(GRAPH_EVENTS.name), ana, late_block)
        finally:
            await publisher.stop()

    asyncio.run(publish())
    [kept] = people.until(ana, lambda notes: len(notes) == 1)
    assert kept.post_text.startswith("before")
