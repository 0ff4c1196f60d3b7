"""OAuth's browser side at the edge, driven over HTTP as a browser would: the sign-in page, adding an account,
choosing which account the app acts as, consent, the redirect with the code (or the out-of-band page), the token
exchange with PKCE, CSRF protection, and the web sign-up page."""

import base64
import hashlib
import html
import re
import secrets
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.edge_people import PASSWORD, register_app, sign_up

REDIRECT = "https://app.example/callback"


@pytest.fixture
def browser(edge):
    with httpx.Client(base_url=edge, timeout=15, follow_redirects=False) as client:
        yield client


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the page's first form."""
    form = page.split("<form", 1)[1].split("</form>", 1)[0]
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def test_sign_in_add_an_account_choose_it_and_exchange_the_code(browser):
    person = sign_up(browser, "owner")
    app = register_app(browser, redirect=REDIRECT)
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "read write",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get("/oauth/authorize", params=query)
    assert page.status_code == 200 and 'for="login"' in page.text and 'for="password"' in page.text
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=lax" in page.headers["set-cookie"]
    fields = form_fields(page.text)
    assert fields["client_id"] == app["client_id"] and fields["csrf_token"]

    signed_in = browser.post("/oauth/authorize", data=fields | {"login": person.handle, "password": PASSWORD})
    assert signed_in.status_code == 303
    consent = browser.get(signed_in.headers["location"])
    assert f"@{person.handle}" in consent.text and "Add another account" in consent.text

    second = f"alt{uuid.uuid4().hex[:8]}"
    add_form = consent.text.split("<form", 2)[2]
    added = browser.post("/oauth/authorize", data=form_fields("<form" + add_form) | {"handle": second})
    assert added.status_code == 303, added.text
    consent = browser.get(added.headers["location"])
    chosen = re.search(rf'id="account-(\d+)" name="user_id" value="\d+"[^>]*>\s*<label[^>]*>@{second}', consent.text)
    assert chosen, consent.text
    approved = browser.post(
        "/oauth/authorize", data=form_fields(consent.text) | {"user_id": chosen.group(1), "step": "approve"}
    )
    assert approved.status_code == 302
    target = urlsplit(approved.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    answer = parse_qs(target.query)
    assert answer["state"] == ["xyz"]

    token = browser.post(
        "/oauth/token",
        auth=(app["client_id"], app["client_secret"]),  # client_secret_basic
        data={"grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": REDIRECT,
              "code_verifier": verifier},
    )  # fmt: skip
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == {"read", "write"}
    me = browser.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["username"] == second  # the account chosen, not the first one

    reused = browser.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": REDIRECT,
              "code_verifier": verifier, "client_id": app["client_id"], "client_secret": app["client_secret"]},
    )  # fmt: skip
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_out_of_band_shows_the_code(browser):
    person = sign_up(browser, "oob")
    app = register_app(browser)
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": "urn:ietf:wg:oauth:2.0:oob"}
    fields = form_fields(browser.get("/oauth/authorize", params=query).text)
    consent = browser.get(
        browser.post("/oauth/authorize", data=fields | {"login": person.handle, "password": PASSWORD}).headers[
            "location"
        ]
    )
    checked = re.search(r'name="user_id" value="(\d+)" checked', consent.text).group(1)  # as a browser sends it
    shown = browser.post("/oauth/authorize", data=form_fields(consent.text) | {"user_id": checked, "step": "approve"})
    assert shown.status_code == 200
    code = re.search(r'<p class="code" id="code"[^>]*>([^<]+)</p>', shown.text).group(1)
    token = browser.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
              "client_id": app["client_id"], "client_secret": app["client_secret"]},
    )  # fmt: skip
    assert token.status_code == 200, token.text


def test_a_form_without_its_csrf_token_is_refused(browser):
    app = register_app(browser)
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": "urn:ietf:wg:oauth:2.0:oob"}
    fields = form_fields(browser.get("/oauth/authorize", params=query).text)
    forged = browser.post("/oauth/authorize", data=fields | {"csrf_token": "forged", "login": "x", "password": "y"})
    assert forged.status_code == 403


def test_token_endpoint_errors_are_rfc_6749(browser):
    app = register_app(browser)
    wrong = browser.post("/oauth/token", auth=(app["client_id"], "wrong"), data={"grant_type": "client_credentials"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unsupported = browser.post(
        "/oauth/token",
        json={"grant_type": "implicit", "client_id": app["client_id"], "client_secret": app["client_secret"]},
    )
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    unknown = browser.get("/oauth/authorize", params={"response_type": "code", "client_id": "nope"})
    assert unknown.status_code == 400 and "invalid_client" in unknown.text


def test_web_sign_up_then_authorize_without_a_second_password(browser):
    app = register_app(browser)
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": "urn:ietf:wg:oauth:2.0:oob"}
    sign_in = browser.get("/oauth/authorize", params=query)
    link = html.unescape(re.search(r'<a href="([^"]+)">Sign up</a>', sign_in.text).group(1))
    page = browser.get(link)
    assert page.status_code == 200 and 'for="username"' in page.text
    username = f"web{uuid.uuid4().hex[:8]}"
    fields = form_fields(page.text)
    done = browser.post("/auth/sign_up", data=fields | {"username": username, "password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"].startswith("/oauth/authorize?")
    consent = browser.get(done.headers["location"])
    assert f"@{username}" in consent.text
    weak = browser.post("/auth/sign_up", data=fields | {"username": f"w{uuid.uuid4().hex[:8]}", "password": "short"})
    assert weak.status_code == 422 and 'role="alert"' in weak.text
