"""Who may make which call: every RPC of every service declares a rule, and the gRPC server enforces it before the
handler runs, from the credential in the call's metadata (services/runtime/credentials.py).

An id in a request is a claim, not a proof: a call that acts for a user, or reads what only that user may see,
names the user in a request field, and the rule checks that the credential grants acting as that user and holds
the scope the call needs. No credential, or one that does not verify: UNAUTHENTICATED. A valid credential that does
not grant the call: PERMISSION_DENIED. Public reads need no credential.
"""

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from services.runtime.credentials import METADATA_KEY, Caller, CredentialVerifier, Kind
from services.runtime.errors import PermissionDenied, Unauthenticated

log = structlog.get_logger(__name__)

# The caller of the call being handled, for handlers that need more than the rule checked (None: anonymous).
current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("current_caller", default=None)


@dataclass(frozen=True)
class Rule:
    # The request field naming the account the call acts for (or whose private data it reads); None: no account.
    acting_field: str | None = None
    # The OAuth scope the credential must hold (Mastodon's sub-scopes); None: any credential, or none if public.
    scope: str | None = None
    # Services (by name) that may make the call on their own behalf.
    services: frozenset[str] = frozenset()
    # Only the operator (and `services`) may make it.
    privileged: bool = False
    # No credential needed.
    public: bool = False
    # With `acting_field`: a request leaving that field unset (0 or empty) is public.
    optional: bool = False


def public() -> Rule:
    """Anyone, with or without a credential (a credential that is there must still verify)."""
    return Rule(public=True)


def acting(field: str, scope: str) -> Rule:
    """A call for the account `field` names: its own credential (holding `scope`) or the operator's."""
    return Rule(acting_field=field, scope=scope)


def acting_when_set(field: str, scope: str) -> Rule:
    """Public when the request leaves `field` unset (0 or empty), else as `acting(field, scope)`: a read anyone may
    make, that a user may also make as themselves (a search honouring their blocks and mutes)."""
    return Rule(acting_field=field, scope=scope, optional=True)


def privileged(*services: str) -> Rule:
    """The operator's, or one of these services' own."""
    return Rule(services=frozenset(services), privileged=True)


def missing_rules(rules: Mapping[str, Rule], methods: list[str]) -> list[str]:
    """Methods of a service that no rule covers: a server refuses to start with any (nothing is open by mistake)."""
    return [method for method in methods if method not in rules]


async def authorize(rule: Rule, credential: str | None, request, verifier: CredentialVerifier | None) -> Caller | None:
    """The caller, once the rule allows the call; raises Unauthenticated or PermissionDenied otherwise."""
    caller = None
    if credential is not None:
        if verifier is None:
            raise Unauthenticated("CREDENTIALS_NOT_ACCEPTED", "this server takes no credentials")
        caller = await verifier.verify(credential)
    if rule.public or (rule.optional and rule.acting_field is not None and not getattr(request, rule.acting_field)):
        return caller
    if caller is None:
        raise Unauthenticated(
            "CREDENTIAL_MISSING", f"this call needs a credential in the `{METADATA_KEY}: Bearer ...` metadata"
        )
    if rule.privileged:
        if caller.kind is Kind.OPERATOR or (caller.kind is Kind.SERVICE and caller.service in rule.services):
            return caller
        raise PermissionDenied("NOT_PERMITTED", f"{caller.describe()} may not make this call")
    if rule.scope is not None and not caller.may(rule.scope):
        raise PermissionDenied(
            "SCOPE_MISSING", f"this call needs the {rule.scope} scope, which the token was not given", scope=rule.scope
        )
    if rule.acting_field is not None:
        user_id = getattr(request, rule.acting_field)
        if not caller.acts_for(user_id):
            raise PermissionDenied(
                "NOT_YOUR_ACCOUNT", f"{caller.describe()} may not act for user {user_id}", field=rule.acting_field
            )
        if caller.kind is Kind.OPERATOR:
            log.info("auth.operator_acting", user_id=user_id, field=rule.acting_field)
    return caller


def credential_of(metadata) -> str | None:
    """The bearer credential in a call's metadata; None when there is none. A malformed header is
    Unauthenticated."""
    for key, value in metadata or ():
        if key == METADATA_KEY:
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("CREDENTIAL_INVALID", f"`{METADATA_KEY}` must be `Bearer <credential>`")
            return token.strip()
    return None
