"""The whole path, through the `chirp` command line: accounts, a follow, a post, a home timeline, notifications."""

import json
import subprocess
import sys

from services.cli.launcher import REPO
from tests.helpers import eventually, unique_handle


def chirp(system, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args], env=system.env, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, f"chirp {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def test_a_followers_home_timeline_shows_the_post_and_the_right_people_are_notified(system):
    alice, bob, carol = unique_handle("alice"), unique_handle("bob"), unique_handle("carol")
    chirp(system, "user", "create", alice, "--name", "Alice Liddell")
    chirp(system, "user", "create", bob)
    chirp(system, "user", "create", carol)
    chirp(system, "follow", "--as", bob, alice)

    text = f"Ciao a tutti! Привет 👋 @{carol.upper()} こんにちは"
    post_id = chirp(system, "post", "--as", alice, text).strip()
    assert post_id.isdigit()

    def home_of_bob():
        items = json.loads(chirp(system, "timeline", "home", "--as", bob, "--json"))
        return [item for item in items if item["id"] == post_id]

    # How fast is the bench's business (docs/performance.md); this only asks that it arrives.
    [item] = eventually(home_of_bob, timeout=30)
    assert item["author"] == alice and item["text"] == text and item["created_at"].endswith("Z")

    user_timeline = json.loads(chirp(system, "timeline", "user", alice, "--json"))
    assert [entry["id"] for entry in user_timeline] == [post_id]

    def notifications_of(handle):
        return lambda: json.loads(chirp(system, "notifications", "--as", handle, "--json"))

    [followed] = eventually(notifications_of(alice))
    assert (followed["kind"], followed["actor"]) == ("new_follower", bob)
    [mentioned] = eventually(notifications_of(carol))
    assert (mentioned["kind"], mentioned["actor"], mentioned["post_id"]) == ("mention", alice, post_id)
    # Bob follows but is not mentioned: nothing for him.
    assert json.loads(chirp(system, "notifications", "--as", bob, "--json")) == []


def test_the_timeline_of_someone_who_follows_nobody_holds_only_their_own_posts(system):
    loner, stranger = unique_handle("loner"), unique_handle("strngr")
    chirp(system, "user", "create", loner)
    chirp(system, "user", "create", stranger)
    chirp(system, "post", "--as", stranger, "nobody follows me")
    own = chirp(system, "post", "--as", loner, "talking to myself").strip()
    items = eventually(lambda: json.loads(chirp(system, "timeline", "home", "--as", loner, "--json")))
    assert [item["id"] for item in items] == [own]
