"""Real Mastodon clients, unmodified and pinned, against the edge: Mastodon.py and toot (PyPI, in the dev lock) and
masto.js (npm, tests/masto). Each signs people up or in, posts (mentions, a hashtag, a link, Japanese text and
emoji), replies and reads the context, favourites, reblogs, follows, reads home and notifications, receives one
live update from the stream, and deletes."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.edge_people import PASSWORD, sign_up

MASTO = Path(__file__).resolve().parents[1] / "masto"
SCOPES = ["read", "write", "follow", "push"]


def _eventually(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_mastodon_py(edge):
    from mastodon import Mastodon, StreamListener

    client_id, client_secret = Mastodon.create_app("Mastodon.py test", api_base_url=edge, scopes=SCOPES)
    ada_handle, bob_handle = (f"{stem}{uuid.uuid4().hex[:8]}" for stem in ("mpa", "mpb"))
    registrar = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=edge)
    ada_token = registrar.create_account(
        ada_handle, PASSWORD, f"{ada_handle}@example.com", agreement=True, scopes=SCOPES
    )
    ada = Mastodon(client_id=client_id, client_secret=client_secret, access_token=ada_token, api_base_url=edge)
    Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=edge).create_account(
        bob_handle, PASSWORD, f"{bob_handle}@example.com", agreement=True, scopes=SCOPES
    )
    bob = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=edge)
    bob.log_in(bob_handle, PASSWORD, scopes=SCOPES, allow_http=True)  # the password grant, over plain HTTP here
    assert ada.me()["username"] == ada_handle
    assert bob.account_follow(ada.me()["id"])["following"]

    updates = []

    class Updates(StreamListener):
        def on_update(self, status):
            updates.append(status)

    stream = bob.stream_user(Updates(), run_async=True, reconnect_async=False)
    try:
        time.sleep(1.5)
        status = ada.status_post(f"Ciao @{bob_handle} #Chirp https://example.com/mastodon-py 日本語のテキスト 🎉")
        assert _eventually(lambda: updates)
    finally:
        stream.close()
    assert updates[0]["id"] == status["id"]
    assert [tag["name"] for tag in status["tags"]] == ["Chirp"]
    assert [mention["acct"] for mention in status["mentions"]] == [bob_handle]
    assert "日本語のテキスト 🎉" in status["content"]

    reply = bob.status_reply(status, "Grazie!")
    assert _eventually(lambda: [s["id"] for s in ada.status_context(status["id"])["descendants"]] == [reply["id"]])
    assert bob.status_favourite(status["id"])["favourited"]
    assert bob.status_reblog(status["id"])["reblogged"]
    assert _eventually(lambda: status["id"] in [s["id"] for s in bob.timeline_home()])
    kinds = _eventually(
        lambda: {"follow", "mention", "favourite", "reblog"} <= {n["type"] for n in ada.notifications()}
    )
    assert kinds
    first = bob.timeline_home(limit=1)
    assert bob.fetch_next(first)  # follows the Link header
    assert ada.status_delete(status["id"])["id"] == status["id"]
    assert _eventually(lambda: status["id"] not in [s["id"] for s in ada.account_statuses(ada.me()["id"])])


def test_toot(edge, tmp_path):
    """toot's CLI with its own login flow (login_cli: the password grant). toot has no streaming command, so the
    live update is read from the user stream with the token toot saved."""
    http = httpx.Client(base_url=edge, timeout=15)
    ada, bob = sign_up(http, "toota"), sign_up(http, "tootb")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))

    def toot(*args: str) -> str:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "toot"), *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def shows(needle: str, *args: str) -> bool:
        return bool(_eventually(lambda: needle in toot(*args)))

    toot("login_cli", "-i", edge, "-e", f"{ada.handle}@example.com", "-p", PASSWORD)
    assert f"@{ada.handle}" in toot("whoami")
    saved = json.loads((tmp_path / "toot" / "config.json").read_text())
    token = next(iter(saved["users"].values()))["access_token"]
    toot("follow", bob.handle)

    streamed: list[str] = []
    reader = threading.Thread(target=_first_update, args=(edge, token, streamed), daemon=True)
    reader.start()
    time.sleep(1.5)
    bob_post = http.post("/api/v1/statuses", headers=bob.headers, data={"status": "Hi from bob"}).json()
    reader.join(timeout=20)
    assert streamed == [bob_post["id"]]

    posted = toot("post", f"Hello @{bob.handle} #chirp https://example.com/toot 日本語のテキスト 🎉")
    status_id = posted.strip().rsplit("/", 1)[-1]
    assert status_id.isdigit(), posted
    toot("post", "--reply-to", bob_post["id"], "A reply from toot")
    assert shows("A reply from toot", "thread", bob_post["id"])
    toot("favourite", bob_post["id"])
    toot("reblog", bob_post["id"])
    assert shows("Hi from bob", "timelines", "home")
    http.post(f"/api/v1/statuses/{status_id}/favourite", headers=bob.headers)
    assert shows("favourited", "notifications")
    toot("delete", status_id)
    assert http.get(f"/api/v1/statuses/{status_id}").status_code == 404


def _first_update(edge: str, token: str, found: list[str]) -> None:
    """The first `update` event of the user stream, over server-sent events."""
    with httpx.stream(
        "GET", f"{edge}/api/v1/streaming/user", headers={"Authorization": f"Bearer {token}"}, timeout=25
    ) as answer:
        event = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "update":
                found.append(json.loads(line[6:])["id"])
                return


@pytest.fixture(scope="module")
def masto_js():
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    assert not missing, f"masto.js needs {' and '.join(missing)} on PATH: `bash infra/require.sh` installs them"
    if not (MASTO / "node_modules" / "masto" / "package.json").exists():
        subprocess.run(
            ["npm", "ci", "--prefix", str(MASTO), "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=300,
        )
    return MASTO / "client.mjs"


def test_masto_js(edge, masto_js):
    done = subprocess.run(
        ["node", str(masto_js), edge, uuid.uuid4().hex[:8]], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["following"]
    assert seen["status"]["tags"] == ["chirp"]
    assert len(seen["status"]["mentions"]) == 1
    assert "日本語のテキスト 🎉" in seen["status"]["content"]
    assert seen["streamed"] == seen["status"]["id"]
    assert seen["descendants"] == [seen["reply"]]
    assert seen["favourited"] and seen["reblogged"]
    assert seen["status"]["id"] in seen["home"]
    assert {"follow", "mention", "favourite", "reblog"} <= set(seen["notifications"])
    assert seen["deleted"] == seen["status"]["id"]
