"""Errors a person can act on, and how each becomes a canonical gRPC status with an ErrorInfo reason (AIP-193).

Domain code raises these; the gRPC bootstrap turns them into statuses. Anything else that escapes a handler is a bug
and answers INTERNAL.
"""

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "chirp.dev"


class ChirpError(Exception):
    """A refusal with a stable machine-readable `reason` (UPPER_SNAKE_CASE) and a message for people."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, reason: str, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = {key: str(value) for key, value in metadata.items()}

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        return rpc_status.to_status(
            status_pb2.Status(code=_CODE_NUMBERS[self.code], message=self.message, details=[detail])
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


_CODE_NUMBERS = {
    grpc.StatusCode.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: code_pb2.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE: code_pb2.UNAVAILABLE,
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
