"""`chirp block|unblock|mute|unmute` and `chirp profile show|update`, run against the real services."""

import json

import pytest
from typer.testing import CliRunner

from chirp.graph.v1 import graph_service_pb2 as graph
from services.cli.common import resolve
from services.cli.graph_commands import app as graph_commands
from tests.helpers import eventually, unique_handle


@pytest.fixture(scope="module")
def chirp(system):
    """Run the graph service's commands alone, with the settings that reach this session's services."""
    runner = CliRunner(env={key: value for key, value in system.env.items() if key.startswith("CHIRP_")})

    def run(*args: str, ok: bool = True):
        result = runner.invoke(graph_commands, list(args))
        assert (result.exit_code == 0) == ok, f"chirp {' '.join(args)}: {result.output}"
        return result

    return run


def account(clients, stem: str) -> str:
    handle = unique_handle(stem)
    clients.graph.CreateUser(graph.CreateUserRequest(handle=handle), timeout=10)
    return handle


def test_a_profile_is_updated_and_shown_with_counts_and_the_viewers_relationship(clients, chirp):
    ada, bob = account(clients, "ada"), account(clients, "bob")
    output = chirp("profile", "update", "--as", ada, "--name", "Ada L.", "--bio", "Engines ⚙️", "--json").stdout
    [updated] = json.loads(output)
    assert (updated["handle"], updated["name"], updated["bio"]) == (ada, "Ada L.", "Engines ⚙️")
    ids = {handle: resolve(clients, handle) for handle in (ada, bob)}
    clients.graph.FollowUser(graph.FollowUserRequest(follower_id=ids[bob], followee_id=ids[ada]), timeout=10)

    def shown() -> dict:
        return json.loads(chirp("profile", "show", ada, "--as", bob, "--json").stdout)[0]

    # Counts trail the follow by the count projection's lag.
    eventually(lambda: (shown()["followers"], shown()["following"], shown()["posts"]) == (1, 0, 0), timeout=15)
    shown = shown()
    assert shown["relationship"] == {
        "following": True,
        "followed_by": False,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
    }
    text = chirp("profile", "show", ada).stdout
    assert f"@{ada} · Ada L." in text and "Engines ⚙️" in text and "1 followers · 0 following · 0 posts" in text


def test_blocking_and_muting_from_the_command_line_shows_in_the_relationship(clients, chirp):
    ada, bob = account(clients, "ada"), account(clients, "bob")
    assert json.loads(chirp("mute", bob, "--as", ada, "--json").stdout) == [{"user": ada, "other": bob, "muting": True}]
    assert chirp("block", f"@{bob}", "--as", ada).stdout.strip() == f"@{ada} blocked @{bob}"
    [shown] = json.loads(chirp("profile", "show", bob, "--as", ada, "--json").stdout)
    assert shown["relationship"] == {
        "following": False,
        "followed_by": False,
        "blocking": True,
        "blocked_by": False,
        "muting": True,
    }
    assert "you blocked them; you muted them" in chirp("profile", "show", bob, "--as", ada).stdout
    assert chirp("unblock", bob, "--as", ada).stdout.strip() == f"@{ada} unblocked @{bob}"
    assert chirp("unmute", bob, "--as", ada).stdout.strip() == f"@{ada} unmuted @{bob}"
    assert "neither follow, block nor mute" in chirp("profile", "show", bob, "--as", ada).stdout


def test_refusals_on_the_command_line_say_why_and_exit_1(clients, chirp):
    ada = account(clients, "ada")
    assert "cannot block or unblock yourself (INVALID_ARGUMENT)" in chirp("block", ada, "--as", ada, ok=False).stderr
    assert "nothing to change" in chirp("profile", "update", "--as", ada, ok=False).stderr
    assert "(INVALID_ARGUMENT)" in chirp("profile", "update", "--as", ada, "--bio", "x" * 161, ok=False).stderr
    assert "(NOT_FOUND)" in chirp("profile", "show", "nobody_here_zz", ok=False).stderr


def test_filters_are_added_listed_and_removed(clients, system):
    from services.cli.filter_commands import app as filter_commands

    runner = CliRunner(env={key: value for key, value in system.env.items() if key.startswith("CHIRP_")})

    def run(*args: str) -> str:
        result = runner.invoke(filter_commands, list(args))
        assert result.exit_code == 0, f"chirp filters {' '.join(args)}: {result.output}"
        return result.stdout

    ada = account(clients, "ada")
    [made] = json.loads(run("add", "elezione", "voto", "--as", ada, "--context", "home", "--substring", "--json"))
    assert (made["title"], made["contexts"], made["action"]) == ("elezione", ["home"], "hide")
    assert made["keywords"] == [{"keyword": "elezione", "whole_word": False}, {"keyword": "voto", "whole_word": False}]
    assert json.loads(run("list", "--as", ada, "--json")) == [made]
    assert "hide elezione*, voto* in home" in run("list", "--as", ada)
    run("remove", made["id"], "--as", ada)
    assert json.loads(run("list", "--as", ada, "--json")) == []
