"""The credential the CLI's calls carry: a person's sign-in (`chirp login`) for their own accounts, or else the
operator's credential (`chirp admin setup` writes it, owner-only). Either is exchanged with the identity service for
a short-lived signed credential, renewed before it expires, and sent as `authorization: Bearer ...` metadata."""

import asyncio
import collections
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from chirp.identity.v1 import identity_service_pb2 as identity
from chirp.identity.v1 import identity_service_pb2_grpc
from services.runtime.channels import aio_channel
from services.runtime.config import Settings
from services.runtime.credentials import METADATA_KEY

# A credential is renewed this long before it expires, so no call goes out with one about to lapse.
RENEW_BEFORE_SECONDS = 30


def session_file() -> Path:
    """Where `chirp login` keeps the person's sign-in session (owner-only)."""
    base = os.environ.get("CHIRP_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config", "chirp"
    )
    return Path(base) / "session.json"


def saved_session() -> dict | None:
    """{"session_token", "person", "accounts": {handle: user_id}} as `chirp login` saved it, or None."""
    try:
        return json.loads(session_file().read_text())
    except (OSError, ValueError):
        return None


def save_session(session: dict) -> Path:
    path = session_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(session, file)
    return path


def forget_session() -> None:
    session_file().unlink(missing_ok=True)


def operator_secret(settings: Settings) -> str | None:
    try:
        return Path(settings.operator_credential_file).read_text().strip() or None
    except OSError:
        return None


class Credentials:
    """Mints the credential for the account the CLI acts as (set by `act_as`), from the saved sign-in when that
    account is the person's, else from the operator's secret; None when it has neither."""

    def __init__(self, settings: Settings, identity_channel: grpc.Channel) -> None:
        self._settings = settings
        self._identity = identity_service_pb2_grpc.IdentityServiceStub(identity_channel)
        self._acting_as = 0
        self._minted: dict[int, tuple[str, float]] = {}

    def act_as(self, user_id: int) -> None:
        self._acting_as = user_id

    def bearer(self) -> str | None:
        minted = self._minted.get(self._acting_as)
        if minted is None or minted[1] - RENEW_BEFORE_SECONDS < time.time():
            minted = self._mint(self._acting_as)
            if minted is None:
                return None
            self._minted[self._acting_as] = minted
        return minted[0]

    def _mint(self, user_id: int) -> tuple[str, float] | None:
        session = saved_session()
        if session and user_id and user_id in session.get("accounts", {}).values():
            answer = self._identity.IssueCredential(
                identity.IssueCredentialRequest(session_token=session["session_token"], user_id=user_id), timeout=10
            )
            return answer.credential, answer.expire_time.seconds
        secret = operator_secret(self._settings)
        if secret is None:
            return None
        answer = self._identity.IssueOperatorCredential(
            identity.IssueOperatorCredentialRequest(operator_secret=secret, user_id=user_id), timeout=10
        )
        return answer.credential, answer.expire_time.seconds


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class BearerInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <credential>` to every call, when there is a credential to add."""

    def __init__(self, bearer: Callable[[], str | None]) -> None:
        self._bearer = bearer

    def _with_credential(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        credential = self._bearer()
        if credential is None:
            return details
        metadata = [*(details.metadata or ()), (METADATA_KEY, f"Bearer {credential}")]
        return _Details(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with_credential(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_credential(client_call_details), request)


class OperatorCredentials:
    """For asyncio tools (the bench): the operator's credential, minted by identity and renewed before it expires."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._minted: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def bearer(self) -> str | None:
        async with self._lock:  # one mint for the calls that arrive together
            if self._minted is None or self._minted[1] - RENEW_BEFORE_SECONDS < time.time():
                secret = operator_secret(self._settings)
                if secret is None:
                    return None
                async with aio_channel(self._settings, self._settings.identity_addr) as channel:
                    stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
                    answer = await stub.IssueOperatorCredential(
                        identity.IssueOperatorCredentialRequest(operator_secret=secret), timeout=10
                    )
                self._minted = (answer.credential, answer.expire_time.seconds)
            return self._minted[0]


class AioBearerInterceptor(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """The asyncio twin of BearerInterceptor."""

    def __init__(self, bearer: Callable[[], Awaitable[str | None]]) -> None:
        self._bearer = bearer

    async def _with_credential(self, details):
        credential = await self._bearer()
        if credential is None:
            return details
        metadata = grpc.aio.Metadata(*(details.metadata or ()), (METADATA_KEY, f"Bearer {credential}"))
        return details._replace(metadata=metadata)

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(await self._with_credential(client_call_details), request)

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(await self._with_credential(client_call_details), request)
