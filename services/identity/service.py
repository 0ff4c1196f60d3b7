"""Use cases of the identity service: people and their accounts, sign-in sessions, apps and their tokens, and the
credentials the other services verify. Every use case checks the proof its caller brought (a password, a session,
an access token, the operator's credential) before it does anything."""

import asyncio
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from services.graph.client import GraphClient
from services.identity.domain import (
    SESSION_SECONDS,
    Account,
    App,
    Grant,
    IssuedToken,
    Person,
    Registration,
    account_request_id,
    handle_key,
    is_email,
    login_key,
    lookup_key,
    matches,
    new_secret,
    requested_scopes,
    scope_problem,
    secret_hash,
    validate_app,
    validate_email,
    validate_password,
    validate_username,
)
from services.identity.keys import KeyDirectory
from services.identity.passwords import hash_password, needs_rehash, verify_password
from services.identity.repository import IdentityRepository
from services.runtime import scopes as oauth_scopes
from services.runtime.access import current_caller
from services.runtime.clock import utc_now
from services.runtime.credentials import Caller, Kind
from services.runtime.errors import (
    AlreadyExists,
    ChirpError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.runtime.ids import SnowflakeIds

log = structlog.get_logger(__name__)

# What graph knows the identity service as: its CreateUser admits only this service's own credential.
SERVICE_NAME = "identity"
# The scope an app's own token needs to sign people up (Mastodon's POST /api/v1/accounts).
SIGN_UP_SCOPE = "write:accounts"


class IdentityService:
    def __init__(
        self,
        repo: IdentityRepository,
        keys: KeyDirectory,
        graph: GraphClient,
        ids: SnowflakeIds,
        registrations_open: bool,
    ) -> None:
        self._repo = repo
        self._keys = keys
        self._graph = graph
        self._ids = ids
        self._registrations_open = registrations_open

    # Credentials.

    def signing_keys(self) -> str:
        return self._keys.current.public_jwks()

    def sign(self, caller: Caller) -> tuple[str, int]:
        """(a credential for `caller`, its expiry in Unix seconds), signed with the newest key."""
        return self._keys.current.sign(caller)

    async def operator_credential(self, secret: str, user_id: int) -> tuple[str, int]:
        """(a credential for the operator, acting as `user_id` or no one; its expiry in Unix seconds)."""
        if not matches(secret, await self._repo.operator_secret_hash()):
            raise Unauthenticated("OPERATOR_SECRET_INVALID", "that is not this deployment's operator secret")
        return self.sign(Caller(Kind.OPERATOR, user_id=user_id))

    async def issue_credential(self, session_token: str, user_id: int) -> tuple[str, int]:
        """A first-party credential (every scope of the CLI and the web client) for one of the session's accounts."""
        person = await self.session_person(session_token)
        await self.check_owns(person, user_id)
        return self.sign(Caller(Kind.USER, person.person_id, user_id, scopes=oauth_scopes.FIRST_PARTY))

    async def authenticate_token(self, access_token: str) -> tuple[Caller, str, int]:
        """(who the token acts for, a fresh credential for it, its expiry). Read from the store on every call, so a
        revoked token fails at once."""
        grant = await self._repo.get_token(secret_hash(access_token)) if access_token else None
        if grant is None:
            raise Unauthenticated("TOKEN_INVALID", "the access token is unknown or was revoked")
        kind = Kind.USER if grant.user_id else Kind.APP
        caller = Caller(kind, grant.person_id, grant.user_id, grant.client_id, grant.scopes)
        return caller, *self.sign(caller)

    # People and accounts.

    async def sign_up(
        self,
        username: str,
        email: str,
        password: str,
        display_name: str,
        request_id: str,
        app_token: str,
        scopes: list[str],
    ) -> Registration:
        """A person with a password and their first account (handle = username). With an app's own token the
        answer carries a token for that app acting as the new account, else a sign-in session."""
        if not self._registrations_open:
            raise FailedPrecondition("REGISTRATIONS_CLOSED", "this server does not take sign-ups now")
        validate_password(password)
        for_app = await self._sign_up_grant(app_token, scopes) if app_token else None
        person, account = await self._create_person(username, email, password, display_name, request_id)
        if for_app is not None:
            grant = replace(for_app, person_id=person.person_id, user_id=account.user_id)
            return Registration(person, account, access_token=await self.issue_token(grant))
        session_token, _ = await self._new_session(person.person_id)
        return Registration(person, account, session_token=session_token)

    async def create_account(self, handle: str, display_name: str, request_id: str) -> tuple[Person, Account]:
        """The operator's `chirp user create`: a person named after the handle, with no password yet."""
        return await self._create_person(handle, "", None, display_name, request_id)

    async def add_account(self, session_token: str, handle: str, display_name: str) -> Account:
        """Another account for the session's person. One they already have under that handle is answered again,
        so a retry after a lost answer succeeds."""
        person = await self.session_person(session_token)
        for account in await self._repo.accounts_of(person.person_id):
            if handle_key(account.handle) == handle_key(handle):
                return account
        return await self._new_account(person.person_id, handle, display_name)

    async def accounts(self, person: Person) -> list[Account]:
        return await self._repo.accounts_of(person.person_id)

    async def check_owns(self, person: Person, user_id: int) -> None:
        if user_id == 0 or await self._repo.owner_of(user_id) != person.person_id:
            raise PermissionDenied(
                "NOT_YOUR_ACCOUNT", f"user {user_id} is not one of your accounts", user_id=str(user_id)
            )

    async def _create_person(
        self, username: str, email: str, password: str | None, display_name: str, request_id: str
    ) -> tuple[Person, Account]:
        """Claims the username (then the email), has graph create the account, records who owns it, and writes the
        person last: a person row means a complete person. A retry with the same request id continues with the
        person the first attempt claimed; the deterministic request id given to graph makes its account the same."""
        username, email = validate_username(username), validate_email(email)
        password_hash = await asyncio.to_thread(hash_password, password) if password is not None else None
        key = login_key(username)
        claimed, person_id, holder_request = await self._repo.claim_username(key, self._ids.next_id(), request_id)
        if not claimed:
            if not request_id or holder_request != request_id:
                raise AlreadyExists("USERNAME_TAKEN", f"the username {username} is taken", username=username)
            done = await self._repo.get_person(person_id)
            if done is not None:
                return await self._completed(done, email, password)
        email_claimed = False
        try:
            if email:
                email_claimed, holder = await self._repo.claim_email(login_key(email), person_id)
                if not email_claimed and holder != person_id:
                    raise AlreadyExists("EMAIL_TAKEN", "that email address belongs to another person")
                email_claimed = True
            account = await self._new_account(person_id, username, display_name)
        except Exception as error:
            # After a refusal (a taken email, a handle graph will not take) nothing was made; after an outage,
            # without a request id no retry can resume this attempt. Either way, free what was claimed. With a
            # request id, an outage keeps the claims for the retry to finish.
            if isinstance(error, ChirpError) or not request_id:
                await self._repo.release_username(key, person_id)
                if email_claimed:
                    await self._repo.release_email(login_key(email), person_id)
            raise
        person = Person(person_id, username, email, utc_now())
        await self._repo.save_person(person, password_hash)
        return person, account

    async def _completed(
        self, done: tuple[Person, str | None], email: str, password: str | None
    ) -> tuple[Person, Account]:
        """A retry of a sign-up that already finished: the same person, if the retry asks for the same one."""
        person, stored_hash = done
        same = login_key(person.email) == login_key(email) and (
            password is None or await asyncio.to_thread(verify_password, stored_hash, password)
        )
        if not same:
            raise InvalidArgument(
                "REQUEST_ID_REUSED", "this request_id was already used for a different sign-up; use a new one"
            )
        return person, (await self._repo.accounts_of(person.person_id))[0]

    async def _new_account(self, person_id: int, handle: str, display_name: str) -> Account:
        credential, _ = self.sign(Caller(Kind.SERVICE, service=SERVICE_NAME))
        user = await self._graph.create_user(handle, display_name, account_request_id(person_id, handle), credential)
        account = Account(user.user_id, user.handle, user.display_name)
        await self._repo.save_account(person_id, account)
        return account

    # Passwords and sign-in sessions.

    async def check_login(self, login: str, password: str) -> Person:
        """The person whose username or email `login` is, if `password` is theirs. The refusal does not say which of
        the two was wrong, and takes as long either way (an unknown login still costs one hash)."""
        key = lookup_key(login)
        person_id = await (
            self._repo.person_id_by_email(key) if is_email(key) else self._repo.person_id_by_username(key)
        )
        found = await self._repo.get_person(person_id) if person_id is not None else None
        stored_hash = found[1] if found is not None else None
        # Hashed first, whether or not the login was found: the refusal must take as long either way.
        verified = await asyncio.to_thread(verify_password, stored_hash, password)
        if found is None or not verified:
            raise Unauthenticated("LOGIN_FAILED", "that login and password do not match")
        person = found[0]
        if stored_hash is not None and needs_rehash(stored_hash):
            await self._repo.set_password_hash(person.person_id, await asyncio.to_thread(hash_password, password))
        return person

    async def sign_in(self, login: str, password: str) -> tuple[Person, str, datetime]:
        """(the person, a new session token, when it expires)."""
        person = await self.check_login(login, password)
        return person, *await self._new_session(person.person_id)

    async def sign_out(self, session_token: str) -> None:
        """Ends the session; ending one that is unknown or already ended is no error, but naming none is."""
        if not session_token:
            raise InvalidArgument("SESSION_TOKEN_REQUIRED", "give the session_token of the session to end")
        found = await self._repo.session(secret_hash(session_token))
        if found is not None:
            await self._repo.delete_sessions(found[0], [secret_hash(session_token)])

    async def session_person(self, session_token: str) -> Person:
        if not session_token:
            raise Unauthenticated("SESSION_MISSING", "this call needs the session_token that SignIn answered")
        found = await self._repo.session(secret_hash(session_token))
        person = await self._repo.get_person(found[0]) if found is not None and found[1] > utc_now() else None
        if person is None:
            raise Unauthenticated("SESSION_INVALID", "the sign-in session is unknown, ended or expired: sign in again")
        return person[0]

    async def set_password(self, session_token: str, username: str, password: str) -> None:
        """With a session, the session's own person; without one, the operator sets it for `username`. Every other
        session of the person ends: whoever knew the old password is signed out."""
        validate_password(password)
        keep = b""
        if session_token:
            person = await self.session_person(session_token)
            if username and login_key(username) != login_key(person.username):
                raise PermissionDenied("NOT_YOUR_PASSWORD", "a session sets the password of its own person only")
            person_id, keep = person.person_id, secret_hash(session_token)
        else:
            person_id = await self._operator_target(username)
        await self._repo.set_password_hash(person_id, await asyncio.to_thread(hash_password, password))
        others = [token_hash for token_hash in await self._repo.sessions_of(person_id) if token_hash != keep]
        await self._repo.delete_sessions(person_id, others)

    async def _operator_target(self, username: str) -> int:
        caller = current_caller.get()
        if caller is None:
            raise Unauthenticated(
                "SESSION_MISSING", "give the person's session_token, or call with the operator's credential"
            )
        if caller.kind is not Kind.OPERATOR:
            raise PermissionDenied("NOT_PERMITTED", f"{caller.describe()} may not set another person's password")
        person_id = await self._repo.person_id_by_username(lookup_key(username))
        if person_id is None or await self._repo.get_person(person_id) is None:
            raise NotFound("USERNAME_NOT_FOUND", f"nobody has the username {username!r}", username=username)
        log.info("auth.operator_set_password", person_id=person_id)
        return person_id

    async def _new_session(self, person_id: int) -> tuple[str, datetime]:
        token, created = new_secret(), utc_now()
        expires = created + timedelta(seconds=SESSION_SECONDS)
        await self._repo.save_session(secret_hash(token), person_id, created, expires)
        return token, expires

    # Apps and their tokens.

    async def register_app(
        self, name: str, redirect_uris: list[str], scopes: list[str], website: str
    ) -> tuple[App, str]:
        """(the app, its client secret: shown this once, stored only as a hash)."""
        name, uris, granted, website = validate_app(name, redirect_uris, scopes, website)
        app = App(secrets.token_urlsafe(32), name, uris, granted, website, utc_now())
        secret = new_secret()
        await self._repo.save_app(app, secret_hash(secret))
        return app, secret

    async def issue_token(self, grant: Grant) -> IssuedToken:
        issued = IssuedToken(new_secret(), grant.scopes, utc_now())
        await self._repo.save_token(secret_hash(issued.token), grant, issued.create_time)
        return issued

    async def _sign_up_grant(self, app_token: str, scopes: list[str]) -> Grant:
        """What the new account's token will be: the app of `app_token` (its own token, with write:accounts) and
        the scopes asked for, or else the app token's own."""
        grant = await self._repo.get_token(secret_hash(app_token))
        if grant is None:
            raise Unauthenticated("TOKEN_INVALID", "the app token is unknown or was revoked")
        if grant.user_id:
            raise PermissionDenied("APP_TOKEN_REQUIRED", "sign-up takes an app's own token (client_credentials)")
        if not oauth_scopes.covers(grant.scopes, SIGN_UP_SCOPE):
            raise PermissionDenied("SCOPE_MISSING", f"signing people up needs an app token with {SIGN_UP_SCOPE}")
        found = await self._repo.get_app(grant.client_id)
        registered = found[0].scopes if found is not None else frozenset()
        wanted = requested_scopes(scopes) if scopes else grant.scopes
        problem = scope_problem(wanted, registered)
        if problem:
            raise InvalidArgument("SCOPE_INVALID", problem)
        return Grant(grant.client_id, wanted)
