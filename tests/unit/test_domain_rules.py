"""Pure rules of the graph, timeline and notification services."""

import uuid

import pytest

from chirp.graph.v1 import graph_pb2
from chirp.notification.v1.notification_pb2 import NotificationKind
from chirp.post.v1 import post_pb2
from services.graph.domain import check_follow, handle_key, validate_display_name, validate_handle
from services.notification.domain import for_follow, for_post
from services.runtime.errors import InvalidArgument
from services.runtime.events import event_id_for
from services.timeline.domain import home_recipients


def test_handles_are_the_same_whatever_their_case():
    assert handle_key("Giulia_News") == handle_key("giulia_news")


def test_a_handle_may_be_given_with_its_at_sign():
    assert validate_handle("@ada") == "ada"


def test_a_display_name_defaults_to_the_handle_and_is_capped():
    assert validate_display_name("  ", "ada") == "ada"
    with pytest.raises(InvalidArgument):
        validate_display_name("x" * 51, "ada")


def test_nobody_follows_themselves():
    with pytest.raises(InvalidArgument) as refused:
        check_follow(1, 1)
    assert refused.value.reason == "SELF_FOLLOW"


def test_the_author_and_every_follower_get_a_post_once():
    assert home_recipients(1, [2, 3, 1]) == [1, 2, 3]


def test_event_ids_are_deterministic_per_fact():
    assert event_id_for("post-created", 7) == event_id_for("post-created", 7) != event_id_for("post-created", 8)
    assert uuid.UUID(event_id_for("x"))


def _post_event(author: int, mentioned: list[int]) -> post_pb2.PostEvent:
    post = post_pb2.Post(post_id=10, author_id=author, text="hi", mentions=[post_pb2.Mention(user_id=u) for u in mentioned])
    return post_pb2.PostEvent(event_id=event_id_for("post-created", 10), post_created=post_pb2.PostCreated(post=post))


def test_mentioned_users_are_notified_once_each_and_never_the_author():
    notes = for_post(_post_event(author=1, mentioned=[2, 1, 3, 2]), max_mentions=10)
    assert [(n.recipient_id, n.kind, n.actor_id) for n in notes] == [
        (2, NotificationKind.NOTIFICATION_KIND_MENTION, 1),
        (3, NotificationKind.NOTIFICATION_KIND_MENTION, 1),
    ]


def test_a_redelivered_event_gives_the_same_notification_id():
    event = graph_pb2.GraphEvent(event_id="e1", user_followed=graph_pb2.UserFollowed(follower_id=1, followee_id=2))
    assert for_follow(event) == for_follow(event)
    assert for_follow(event)[0].recipient_id == 2


def test_only_the_first_mentioned_users_up_to_the_limit_are_notified():
    notes = for_post(_post_event(author=1, mentioned=list(range(2, 20))), max_mentions=10)
    assert [n.recipient_id for n in notes] == list(range(2, 12))
