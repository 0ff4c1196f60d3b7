"""OAuth 2 as Mastodon apps use it, over the identity service (which runs authlib): app registration, the
authorization page (sign in once, add an account, choose which account the app acts as, approve), the token and
revocation endpoints, the server's metadata (RFC 8414), and the web sign-up page.

The pages keep the sign-in session in an HttpOnly, SameSite=Lax cookie and carry a CSRF token on every form
(double-submit: a cookie and a hidden field that must match).
"""

import base64
import binascii
import hmac
import secrets
from pathlib import Path
from urllib.parse import unquote, urlencode

import grpc
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from chirp.identity.v1 import identity_service_pb2 as identity
from services.edge.calls import OWN_PROOF, Call, Routes, json_response, text_param
from services.edge.errors import HttpError, error_info
from services.runtime import scopes

routes = Routes()

SESSION_COOKIE = "chirp_session"
CSRF_COOKIE = "chirp_csrf"
OOB = "urn:ietf:wg:oauth:2.0:oob"
AUTHORIZATION_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
GRANT_TYPES = ["authorization_code", "client_credentials", "password"]
# RFC 6749 errors that are the client's fault in its credentials: 401; every other one is 400.
CLIENT_ERRORS = {"invalid_client"}
MAX_FORM_FIELD = 2048
# What RFC 6749 allows in its parameters (VSCHAR, %x20-7E), less the two characters its error descriptions may not
# carry; checked here so that no such value reaches identity (authlib fails on them instead of refusing).
OAUTH_CHARACTERS = frozenset(chr(code) for code in range(0x20, 0x7F)) - {'"', "\\"}
TOKEN_FIELDS = ("grant_type", "client_id", "code", "redirect_uri", "code_verifier", "scope")

_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(default=True)
)


def _page(template: str, status: int = 200, **values) -> HTMLResponse:
    response = HTMLResponse(_pages.get_template(template).render(**values), status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' *"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _secure(call: Call) -> bool:
    return call.base.startswith("https://")


def _csrf(call: Call) -> str:
    return call.request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _with_cookies(call: Call, response: Response, csrf: str, session: str | None = None) -> Response:
    options = {"httponly": True, "samesite": "lax", "secure": _secure(call), "path": "/"}
    response.set_cookie(CSRF_COOKIE, csrf, **options)
    if session is not None:
        response.set_cookie(SESSION_COOKIE, session, max_age=30 * 86400, **options)
    return response


async def _form(call: Call) -> dict[str, str]:
    """The page's form, with its CSRF token checked; 403 when it does not match the cookie."""
    body = await call.body()
    form = {key: text_param(body, key)[:MAX_FORM_FIELD] for key in body if not isinstance(body[key], list)}
    cookie = call.request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form.get("csrf_token", "").encode()):
        raise HttpError(403, "The form expired or did not come from this site: reload the page and try again")
    return form


@routes.post("/api/v1/apps", OWN_PROOF)
async def register_app(call: Call):
    body = await call.body()
    redirect_uris = body.get("redirect_uris") or OOB
    uris = redirect_uris if isinstance(redirect_uris, list) else str(redirect_uris).split()
    requested = scopes.parse(text_param(body, "scopes", "read") or "read")
    request = identity.RegisterAppRequest(
        client_name=text_param(body, "client_name"),
        redirect_uris=[str(uri) for uri in uris],
        scopes=sorted(requested),
        website=text_param(body, "website"),
    )
    app = (await call.rpc(call.backends.identity.RegisterApp, request)).app
    return json_response(
        {
            "id": app.client_id,
            "name": app.name,
            "website": app.website or None,
            "scopes": list(app.scopes),
            "redirect_uri": "\n".join(app.redirect_uris),
            "redirect_uris": list(app.redirect_uris),
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "client_secret_expires_at": 0,
            "vapid_key": "",
        }
    )


def syntax_problem(fields: dict, names) -> str | None:
    """The first of `names` whose value RFC 6749 does not allow, as an error description; None when all fit."""
    for name in names:
        value = fields.get(name)
        if value and not set(str(value)) <= OAUTH_CHARACTERS:
            return f"{name} has characters OAuth 2 does not allow"
    return None


def _authorization(source: dict[str, str]) -> identity.AuthorizationParameters:
    return identity.AuthorizationParameters(
        **{name: str(source.get(name, ""))[:MAX_FORM_FIELD] for name in AUTHORIZATION_FIELDS}
    )


def _hidden(parameters: identity.AuthorizationParameters) -> list[tuple[str, str]]:
    return [(name, getattr(parameters, name)) for name in AUTHORIZATION_FIELDS if getattr(parameters, name)]


async def _session(call: Call) -> identity.GetSessionResponse | None:
    token = call.request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await call.backends.identity.GetSession(identity.GetSessionRequest(session_token=token), timeout=10)
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.UNAUTHENTICATED:
            return None
        raise


async def _authorization_page(call: Call, parameters, csrf: str, error: str = "", login: str = "", status=200):
    """The sign-in form, or (once signed in) the choice of account and the consent."""
    problem = syntax_problem({name: getattr(parameters, name) for name in AUTHORIZATION_FIELDS}, AUTHORIZATION_FIELDS)
    if problem:
        page = _page("message.html", 400, heading="This authorization request is not valid", message=problem)
        return _with_cookies(call, page, csrf)
    try:
        valid = await call.backends.identity.ValidateAuthorization(
            identity.ValidateAuthorizationRequest(parameters=parameters), timeout=10
        )
    except grpc.aio.AioRpcError as refusal:
        info = error_info(refusal)
        if not info.reason.islower():
            raise
        if info.metadata.get("redirect_to"):  # RFC 6749 4.1.2.1: the client learns of its own mistake
            return RedirectResponse(info.metadata["redirect_to"], status_code=302)
        reason = info.reason
        page = _page(
            "message.html",
            400,
            heading="This authorization request is not valid",
            message=f"{reason}: {refusal.details()}",
        )
        return _with_cookies(call, page, csrf)
    session = await _session(call)
    common = {"action": "/oauth/authorize", "csrf": csrf, "parameters": _hidden(parameters), "error": error}
    if session is None:
        page = _page(
            "sign_in.html",
            status,
            app=valid.app,
            login=login,
            registrations_open=call.backends.settings.registrations_open,
            sign_up_url="/auth/sign_up?" + urlencode({"next": f"/oauth/authorize?{urlencode(_hidden(parameters))}"}),
            **common,
        )
    else:
        page = _page(
            "consent.html",
            status,
            app=valid.app,
            person=session.person,
            accounts=session.accounts,
            scopes=valid.scopes,
            **common,
        )
    return _with_cookies(call, page, csrf)


@routes.get("/oauth/authorize", OWN_PROOF)
async def authorize_page(call: Call):
    return await _authorization_page(call, _authorization(dict(call.request.query_params)), _csrf(call))


@routes.post("/oauth/authorize", OWN_PROOF)
async def authorize(call: Call):
    form = await _form(call)
    parameters = _authorization(form)
    csrf = form["csrf_token"]
    step = form.get("step", "")
    back = RedirectResponse(f"/oauth/authorize?{urlencode(_hidden(parameters))}", status_code=303)
    try:
        if step == "sign_in":
            signed_in = await call.backends.identity.SignIn(
                identity.SignInRequest(login=form.get("login", ""), password=form.get("password", "")), timeout=10
            )
            return _with_cookies(call, back, csrf, signed_in.session_token)
        session_token = call.request.cookies.get(SESSION_COOKIE, "")
        if step == "add_account":
            request = identity.AddAccountRequest(
                session_token=session_token, handle=form.get("handle", ""), display_name=form.get("display_name", "")
            )
            await call.backends.identity.AddAccount(request, timeout=10)
            return _with_cookies(call, back, csrf)
        if step in ("approve", "deny"):
            user_id = form.get("user_id", "")
            request = identity.AuthorizeRequest(
                parameters=parameters,
                session_token=session_token,
                user_id=int(user_id) if user_id.isdigit() and len(user_id) < 20 else 0,
                approve=step == "approve",
            )
            answer = await call.backends.identity.Authorize(request, timeout=10)
            if answer.code and not answer.redirect_to:
                valid = await call.backends.identity.ValidateAuthorization(
                    identity.ValidateAuthorizationRequest(parameters=parameters), timeout=10
                )
                return _with_cookies(call, _page("code.html", app_name=valid.app.name, code=answer.code), csrf)
            return RedirectResponse(answer.redirect_to, status_code=302)
    except grpc.aio.AioRpcError as refusal:
        if refusal.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL):
            raise
        message = "Wrong username or password" if step == "sign_in" else (refusal.details() or "Refused")
        return await _authorization_page(call, parameters, csrf, error=message, login=form.get("login", ""), status=422)
    raise HttpError(422, "Validation failed: unknown step")


def _client_credentials(call: Call, body: dict) -> tuple[str, str]:
    """client_secret_basic (the Authorization header) or client_secret_post (the form)."""
    header = call.request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "the Authorization header is not valid Basic credentials") from None
        client_id, _, client_secret = decoded.partition(":")
        return unquote(client_id), unquote(client_secret)
    return text_param(body, "client_id"), text_param(body, "client_secret")


class OAuthError(Exception):
    """A request the token or revocation endpoint refuses before asking identity."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _oauth_response(error: str, description: str, basic: bool, status: int | None = None) -> Response:
    status = status or (401 if error in CLIENT_ERRORS else 400)
    headers = {"Cache-Control": "no-store"}
    if status == 401 and basic:
        headers["WWW-Authenticate"] = 'Basic realm="chirp"'
    return json_response({"error": error, "error_description": description}, status, headers)


async def _rfc6749(call: Call, method, request) -> tuple[object | None, Response | None]:
    """Identity's answer, or the RFC 6749 error response its refusal names (ErrorInfo reason = the error code)."""
    basic = call.request.headers.get("authorization", "").lower().startswith("basic ")
    try:
        return await method(request, timeout=10), None
    except grpc.aio.AioRpcError as refusal:
        if refusal.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise HttpError(503, "Service temporarily unavailable, try again", {"Retry-After": "1"}) from refusal
        info = error_info(refusal)
        reason = info.reason
        if not reason.islower():  # a Chirp reason, not an RFC 6749 code
            reason = "invalid_client" if refusal.code() is grpc.StatusCode.UNAUTHENTICATED else "invalid_request"
        status = int(info.metadata.get("http_status") or (401 if reason in CLIENT_ERRORS else 400))
        return None, _oauth_response(reason, refusal.details() or reason, basic, status)


async def _client_form(call: Call):
    """(the form, client_id, client_secret) of a token or revocation request, or the RFC 6749 error response that
    refuses a body or client authentication it cannot read."""
    try:
        body = await call.body()
        return (body, *_client_credentials(call, body)), None
    except HttpError as error:
        return None, _oauth_response("invalid_request", error.message, False)
    except OAuthError as error:
        return None, _oauth_response(error.error, error.description, False)


@routes.post("/oauth/token", OWN_PROOF)
async def token(call: Call):
    form, refused = await _client_form(call)
    if refused is not None:
        return refused
    body, client_id, client_secret = form
    scope = body.get("scope") or body.get("scopes") or ""
    problem = syntax_problem({**body, "client_id": client_id, "scope": scope}, TOKEN_FIELDS)
    if problem:
        return _oauth_response("invalid_request", problem, False)
    request = identity.ExchangeTokenRequest(
        grant_type=text_param(body, "grant_type"),
        client_id=client_id,
        client_secret=client_secret,
        code=text_param(body, "code"),
        redirect_uri=text_param(body, "redirect_uri"),
        code_verifier=text_param(body, "code_verifier"),
        scope=" ".join(scope) if isinstance(scope, list) else str(scope),
        username=text_param(body, "username"),
        password=text_param(body, "password"),
    )
    answer, refused = await _rfc6749(call, call.backends.identity.ExchangeToken, request)
    if refused is not None:
        return refused
    issued = answer.token  # type: ignore[attr-defined]
    return json_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "scope": " ".join(issued.scopes),
            "created_at": issued.create_time.seconds,
        },
        headers={"Cache-Control": "no-store"},
    )


@routes.post("/oauth/revoke", OWN_PROOF)
async def revoke(call: Call):
    form, refused = await _client_form(call)
    if refused is not None:
        return refused
    body, client_id, client_secret = form
    revoked = text_param(body, "token")
    problem = syntax_problem({"token": revoked, "client_id": client_id}, ("token", "client_id"))
    if problem:
        return _oauth_response("invalid_request", problem, False)
    request = identity.RevokeTokenRequest(client_id=client_id, client_secret=client_secret, token=revoked)
    _, refused = await _rfc6749(call, call.backends.identity.RevokeToken, request)
    if refused is not None:
        return refused
    call.backends.tokens.forget(revoked)
    return json_response({})


@routes.get("/.well-known/oauth-authorization-server", OWN_PROOF)
async def metadata(call: Call):
    base = call.base
    return json_response(
        {
            "issuer": base + "/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": sorted(scopes.ALL_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": GRANT_TYPES if call.backends.settings.oauth_password_grant else GRANT_TYPES[:2],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )


@routes.get("/auth/sign_up", OWN_PROOF)
async def sign_up_page(call: Call):
    csrf = _csrf(call)
    if not call.backends.settings.registrations_open:
        page = _page("message.html", 403, heading="Sign-ups are closed", message="This server takes no new people.")
        return _with_cookies(call, page, csrf)
    page = _page(
        "sign_up.html",
        action="/auth/sign_up",
        csrf=csrf,
        next=_local(call.query("next")),
        username="",
        display_name="",
        email="",
    )
    return _with_cookies(call, page, csrf)


def _local(target: str | None) -> str:
    """Only a path on this site may be where sign-up goes next (no open redirect)."""
    return target if target and target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@routes.post("/auth/sign_up", OWN_PROOF)
async def sign_up(call: Call):
    form = await _form(call)
    csrf = form["csrf_token"]
    request = identity.SignUpRequest(
        username=form.get("username", ""),
        email=form.get("email", ""),
        password=form.get("password", ""),
        display_name=form.get("display_name", ""),
    )
    try:
        answer = await call.backends.identity.SignUp(request, timeout=10)
    except grpc.aio.AioRpcError as refusal:
        if refusal.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL):
            raise
        page = _page(
            "sign_up.html",
            422,
            action="/auth/sign_up",
            csrf=csrf,
            next=_local(form.get("next")),
            error=refusal.details() or "Refused",
            username=form.get("username", ""),
            display_name=form.get("display_name", ""),
            email=form.get("email", ""),
        )
        return _with_cookies(call, page, csrf)
    target = _local(form.get("next"))
    if target == "/":
        page = _page(
            "message.html",
            heading="Welcome to Chirp",
            message=f"You are signed up as @{answer.account.handle}. Sign in from any Mastodon app.",
        )
        return _with_cookies(call, page, csrf, answer.session_token)
    return _with_cookies(call, RedirectResponse(target, status_code=303), csrf, answer.session_token)
