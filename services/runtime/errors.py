"""Errors a person can act on, and how each becomes a canonical gRPC status with an ErrorInfo reason (AIP-193).

Domain code raises these; the gRPC bootstrap turns them into statuses. Anything else that escapes a handler is a bug
and answers INTERNAL.

A refusal often quotes what it refuses, and what it refuses can be a 100,000-character handle: a message longer than
MAX_MESSAGE_LENGTH keeps its start and its end (where the rule usually is) around a note of how much was left out,
and each ErrorInfo metadata value keeps its first MAX_METADATA_VALUE_LENGTH characters, so no error carries more
than a short prefix of anyone's input (trailers stay a few KiB; gRPC's default limit is 16 KiB).
"""

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "chirp.dev"
MAX_MESSAGE_LENGTH = 300
MAX_METADATA_VALUE_LENGTH = 64
# For metadata the service composes itself (a redirect URL), bounded so trailers stay small.
MAX_COMPOSED_VALUE_LENGTH = 2048
_ELLIPSIS = "…"


def shortened(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """`text` if it has at most `limit` characters; else its start and end around what was left out."""
    if len(text) <= limit:
        return text
    keep = limit - len(_note(len(text)))  # the note of what is left out is never longer than this one
    if keep < 2:
        return text[: limit - 1] + _ELLIPSIS
    return text[: keep // 2] + _note(len(text) - keep) + text[len(text) - (keep - keep // 2) :]


def _note(left_out: int) -> str:
    return f"{_ELLIPSIS}[{left_out:,} characters left out]{_ELLIPSIS}"


def _prefix(value: str, limit: int = MAX_METADATA_VALUE_LENGTH) -> str:
    return value if len(value) <= limit else value[: limit - 1] + _ELLIPSIS


class ChirpError(Exception):
    """A refusal with a stable machine-readable `reason` (UPPER_SNAKE_CASE) and a message for people."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        composed: dict[str, str] | None = None,
        retry_after_seconds: float | None = None,
        **metadata: str,
    ) -> None:
        """`metadata` quotes the request (each value keeps a short prefix); `composed` holds values the service
        built itself, such as where OAuth sends the browser back, kept whole up to MAX_COMPOSED_VALUE_LENGTH.
        `retry_after_seconds` goes out as a RetryInfo detail: when to try again."""
        message = shortened(message)
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after_seconds = retry_after_seconds
        self.metadata = {key: _prefix(str(value)) for key, value in metadata.items()} | {
            key: _prefix(value, MAX_COMPOSED_VALUE_LENGTH) for key, value in (composed or {}).items()
        }

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        details = [info]
        if self.retry_after_seconds is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(self.retry_after_seconds * 1e9))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        packed = []
        for detail in details:
            packed.append(any_pb2.Any())
            packed[-1].Pack(detail)
        return rpc_status.to_status(
            status_pb2.Status(code=_CODE_NUMBERS[self.code], message=self.message, details=packed)
        )


class InvalidArgument(ChirpError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ChirpError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ChirpError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ChirpError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(ChirpError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ChirpError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(ChirpError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ChirpError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExpired(ChirpError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


_CODE_NUMBERS = {
    grpc.StatusCode.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: code_pb2.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE: code_pb2.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: code_pb2.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNKNOWN: code_pb2.UNKNOWN,
}


def error_reason(error: grpc.RpcError) -> str | None:
    """The ErrorInfo reason a Chirp server attached to a failed call, if any (for clients and tests)."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return None
