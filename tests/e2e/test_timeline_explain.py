"""`chirp timeline explain`: the event (topic, partition, offset) that put a post in a home timeline, or the rule
that keeps it out."""

import json

from typer.testing import CliRunner

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.cli.main import app as chirp
from services.runtime.envelopes import EVENT_TYPE_HEADER
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from tests.helpers import eventually, read_topic, unique_handle


def where_in_log(settings, topic_spec, matches) -> tuple[str, int, int]:
    topic = settings.topic(topic_spec.name)
    envelope = post_pb2.PostEvent if topic_spec is POST_EVENTS else graph_pb2.GraphEvent
    events = [r for r in read_topic(settings, topic) if EVENT_TYPE_HEADER in dict(r.headers)]  # not others' garbage
    [found] = [r for r in events if matches(envelope.FromString(r.value))]
    return topic, found.partition, found.offset


def test_explain_names_the_event_that_put_a_post_there_or_the_rule_that_keeps_it_out(system, clients):
    settings = system.settings
    users = {}
    for stem in ("reader", "author", "late", "stranger"):
        users[stem] = clients.graph.CreateUser(graph.CreateUserRequest(handle=unique_handle(stem)), timeout=10).user
    reader, author, late, stranger = (users[s].user_id for s in ("reader", "author", "late", "stranger"))
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=author), timeout=10)

    def write(who, text):
        return clients.post.CreatePost(post.CreatePostRequest(author_id=who, text=text), timeout=10).post.post_id

    fanned, old, strangers, doomed = (
        write(author, "fanned out"),
        write(late, "before the follow"),
        write(stranger, "hi"),
        write(author, "doomed"),
    )
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=reader, followee_id=late), timeout=10)
    clients.post.DeletePost(post.DeletePostRequest(post_id=doomed, user_id=author), timeout=10)

    def explain(post_id: int):
        request = timeline.ExplainHomeTimelineEntryRequest(user_id=reader, post_id=post_id)
        return clients.timeline.ExplainHomeTimelineEntry(request, timeout=10)

    by_fan_out = eventually(lambda: (a := explain(fanned)).shown and a)
    assert (by_fan_out.source_topic, by_fan_out.source_partition, by_fan_out.source_offset) == where_in_log(
        settings, POST_EVENTS, lambda e: e.post_created.post.post_id == fanned
    )
    by_backfill = eventually(lambda: (a := explain(old)).shown and a)
    assert (by_backfill.source_topic, by_backfill.source_partition, by_backfill.source_offset) == where_in_log(
        settings, GRAPH_EVENTS, lambda e: e.user_followed.follower_id == reader and e.user_followed.followee_id == late
    )
    not_followed = explain(strangers)
    assert not not_followed.shown and "do not follow" in not_followed.reason and not_followed.source_topic == ""
    assert eventually(lambda: "deleted" in explain(doomed).reason)

    clients.graph.MuteUser(graph.MuteUserRequest(muter_id=reader, muted_id=author), timeout=10)
    muted = eventually(lambda: (a := explain(fanned)).reason.startswith("you muted") and a)
    assert not muted.shown and muted.source_topic == by_fan_out.source_topic

    result = CliRunner().invoke(
        chirp, ["timeline", "explain", str(old), "--as", users["reader"].handle, "--json"], env=system.env
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["shown"] is True
    assert answer["source"] == {
        "topic": by_backfill.source_topic,
        "partition": by_backfill.source_partition,
        "offset": by_backfill.source_offset,
    }
