from pathlib import Path

from tools.event_catalogue import render

EVENTS_MD = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_committed_event_catalogue_is_what_the_protos_say():
    assert EVENTS_MD.read_text() == render(), "docs/events.md is stale: run `make docs` and commit it"


def test_the_catalogue_describes_every_event_type_of_every_topic():
    text = render()
    for name in ("PostCreated", "PostDeleted", "PostLiked", "UserCreated", "UserFollowed", "UserUnfollowed"):
        assert f"### {name} " in text
