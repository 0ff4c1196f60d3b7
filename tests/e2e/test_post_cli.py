"""The post operations through the `chirp` command line, each with --json."""

import json

from tests.e2e.test_follow_post_read import chirp
from tests.helpers import unique_handle


def test_reply_quote_like_repost_thread_and_delete_from_the_command_line(system):
    ana, ben = unique_handle("ana"), unique_handle("ben")
    chirp(system, "user", "create", ana)
    chirp(system, "user", "create", ben)
    root = chirp(system, "post", "--as", ana, "Che tempo fa a Bologna? #meteo").strip()
    [reply] = json.loads(chirp(system, "reply", root, "Piove ☔", "--as", ben, "--json"))
    assert reply["in_reply_to"] == root and reply["conversation_id"] == root
    quote = chirp(system, "quote", root, "Guardate qui", "--as", ben).strip()
    assert json.loads(chirp(system, "like", root, "--as", ben, "--json")) == [{"post_id": root, "liked": True}]
    assert json.loads(chirp(system, "repost", root, "--as", ben, "--json")) == [{"post_id": root, "reposted": True}]

    items = json.loads(chirp(system, "thread", root, "--json"))
    assert [i["id"] for i in items] == [root, reply["id"]]
    assert items[0]["stats"] == {"replies": 1, "reposts": 1, "quotes": 1, "likes": 1}
    assert items[0]["hashtags"] == [{"value": "meteo", "start": 24, "end": 30}]

    chirp(system, "like", root, "--as", ben, "--undo")
    assert json.loads(chirp(system, "delete", quote, "--as", ben, "--json")) == [{"post_id": quote, "deleted": True}]
    items = json.loads(chirp(system, "thread", root, "--json"))
    assert items[0]["stats"]["likes"] == 0
