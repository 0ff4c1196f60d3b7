"""Idempotent mutations (AIP-155): a retried request with the same `request_id` gets the first answer and does
nothing again.

Each service keeps a `requests` table in its own keyspace (see its schema migrations):

    CREATE TABLE requests (request_id text PRIMARY KEY, method text, fingerprint blob, response blob)

A request claims its id with a lightweight transaction before doing anything, so two copies racing each other
cannot both run; the answer is stored when it succeeds and kept for a day. A request that fails releases the id
so that a retry can run it again.

Ids are scoped by who calls (the credential's account, app, service or the operator): one caller's ids can never
collide with, answer, or block another's, however predictable they are.
"""

import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from services.runtime.access import current_caller
from services.runtime.cassandra import CassandraSession
from services.runtime.credentials import Caller, Kind
from services.runtime.errors import FailedPrecondition, InvalidArgument

M = TypeVar("M", bound=Message)

REMEMBER_SECONDS = 24 * 3600
# A claim whose request crashed before answering is freed after this long, so a retry is not locked out forever.
CLAIM_SECONDS = 60
MAX_REQUEST_ID_LENGTH = 128


class IdempotentRequests:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def run(
        self, request_id: str, request: Message, execute: Callable[[], Awaitable[M]], response_type: type[M]
    ) -> M:
        """Run `execute` once per request id; return the stored answer for a repeat of the same request."""
        if not request_id:
            return await execute()
        if len(request_id) > MAX_REQUEST_ID_LENGTH:
            raise InvalidArgument(
                "REQUEST_ID_TOO_LONG", f"request_id can be at most {MAX_REQUEST_ID_LENGTH} characters"
            )
        request_id = f"{_scope_of(current_caller.get())}/{request_id}"
        method = request.DESCRIPTOR.full_name
        fingerprint = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.requests (request_id, method, fingerprint) VALUES (?, ?, ?) IF NOT EXISTS USING "
            "TTL ?",
            (request_id, method, fingerprint, CLAIM_SECONDS),
            idempotent=False,
        )
        claim = rows[0]
        if not claim.applied:
            if claim.method != method or claim.fingerprint != fingerprint:
                raise InvalidArgument(
                    "REQUEST_ID_REUSED",
                    "this request_id was already used for a different request; use a new request_id for a new request",
                )
            if claim.response is None:
                raise FailedPrecondition(
                    "REQUEST_IN_PROGRESS", "a request with this request_id is still being processed; retry in a moment"
                )
            return response_type.FromString(claim.response)
        try:
            response = await execute()
        except BaseException:
            await self._db.execute(f"DELETE FROM {self._ks}.requests WHERE request_id = ?", (request_id,))
            raise
        await self._db.execute(
            f"UPDATE {self._ks}.requests USING TTL ? SET method = ?, fingerprint = ?, response = ? WHERE request_id "
            "= ?",
            (REMEMBER_SECONDS, method, fingerprint, response.SerializeToString(), request_id),
        )
        return response


def _scope_of(caller: Caller | None) -> str:
    if caller is None:
        return "anonymous"
    if caller.kind is Kind.USER:
        return f"user:{caller.user_id}"
    if caller.kind is Kind.APP:
        return f"app:{caller.client_id}"
    if caller.kind is Kind.SERVICE:
        return f"service:{caller.service}"
    return "operator"
