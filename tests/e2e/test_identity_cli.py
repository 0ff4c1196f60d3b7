"""`chirp login`, `accounts`, `logout`, and `--as` with a person's own sign-in instead of the operator's credential;
`chirp demo load` signs the demo people up through identity."""

import json
import subprocess
import sys

from chirp.identity.v1 import identity_service_pb2 as identity
from services.cli.launcher import REPO
from tests.helpers import eventually, unique_handle

PASSWORD = "correct horse battery staple"


def chirp(system, *args: str, stdin: str = "", operator: bool = True) -> subprocess.CompletedProcess:
    """The CLI as a person runs it; `operator=False` takes the operator's credential away from it."""
    env = dict(system.env)
    if not operator:
        env["CHIRP_OPERATOR_CREDENTIAL_FILE"] = str(system.secrets_dir / "no-such-file")
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        input=stdin,
    )


def test_a_person_signs_in_adds_an_account_and_acts_as_theirs_without_the_operator(system, clients):
    username = unique_handle("lucia")
    signed_up = clients.identity.SignUp(
        identity.SignUpRequest(username=username, email=f"{username}@example.com", password=PASSWORD), timeout=10
    )
    assert signed_up.account.handle == username

    refused = chirp(system, "post", "--as", username, "no credential at all", operator=False)
    assert refused.returncode == 1 and "chirp login" in refused.stderr

    login = chirp(system, "login", username, "--password-stdin", stdin=PASSWORD + "\n", operator=False)
    assert login.returncode == 0 and f"@{username}" in login.stdout, login.stderr
    second = unique_handle("lucia2")
    added = chirp(system, "accounts", "add", second, "--name", "Lucía · soporte", operator=False)
    assert added.returncode == 0, added.stderr
    listed = json.loads(chirp(system, "accounts", "--json", operator=False).stdout)
    assert {account["handle"] for account in listed} == {username, second}

    posted = chirp(system, "post", "--as", second, "Hola desde mi segunda cuenta 👋", operator=False)
    assert posted.returncode == 0, posted.stderr
    post_id = int(posted.stdout)
    eventually(lambda: json.loads(chirp(system, "timeline", "user", second, "--json").stdout)[0]["id"] == str(post_id))

    # Another person's account is not theirs: without the operator's credential, nothing acts for it.
    stranger = unique_handle("stranger")
    clients.identity.SignUp(identity.SignUpRequest(username=stranger, password=PASSWORD), timeout=10)
    foreign = chirp(system, "post", "--as", stranger, "not mine", operator=False)
    assert foreign.returncode == 1 and "nothing lets you act as" in foreign.stderr

    assert chirp(system, "logout", operator=False).returncode == 0
    after = chirp(system, "post", "--as", username, "signed out", operator=False)
    assert after.returncode == 1


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(system):
    result = chirp(system, "login", unique_handle("nobody"), "--password-stdin", stdin="wrong\n", operator=False)
    assert result.returncode == 1 and "UNAUTHENTICATED" in result.stderr


def test_the_demo_loads_people_who_sign_in_with_the_demo_password(system):
    loaded = chirp(system, "demo", "load")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    login = chirp(system, "login", "giulia_news", "--password-stdin", stdin="chirp-demo-2026\n", operator=False)
    assert login.returncode == 0, login.stderr
    listed = json.loads(chirp(system, "accounts", "--json", operator=False).stdout)
    assert {account["handle"] for account in listed} == {"giulia_news", "giulia_bologna"}
    again = chirp(system, "demo", "load")
    assert again.returncode == 0, "the demo loads again over itself: " + again.stderr[-2000:]
    chirp(system, "logout", operator=False)
