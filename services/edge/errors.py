"""HTTP errors as Mastodon answers them (`{"error": "..."}`), and the one place gRPC statuses become them."""

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from starlette.responses import JSONResponse

INVALID_TOKEN = "The access token is invalid"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"


class HttpError(Exception):
    """A refusal: its status, Mastodon's message, and any headers (Retry-After, WWW-Authenticate)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status, headers=self.headers)


def unauthorized() -> HttpError:
    return HttpError(401, INVALID_TOKEN, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def not_found() -> HttpError:
    return HttpError(404, "Record not found")


def unprocessable(message: str) -> HttpError:
    return HttpError(422, f"Validation failed: {message}")


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo a Chirp service attached to a refusal (empty when none)."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return error_details_pb2.ErrorInfo()


def from_grpc(error: grpc.aio.AioRpcError) -> HttpError:
    """What a service's refusal means to a Mastodon client. A 422 keeps the service's message: it names Chirp's rule
    (the 140-character limit, counted the twitter-text way)."""
    code, message = error.code(), error.details() or ""
    reason = error_info(error).reason
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return unauthorized()
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return HttpError(403, OUTSIDE_SCOPES if reason == "SCOPE_MISSING" else "This action is not allowed")
    if code is grpc.StatusCode.NOT_FOUND:
        return not_found()
    if reason == "REQUEST_ID_REUSED":
        return HttpError(409, "This Idempotency-Key was already used for a different request")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.OUT_OF_RANGE):
        return unprocessable(message)
    if code is grpc.StatusCode.ALREADY_EXISTS:
        return unprocessable(message)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return HttpError(429, "Too many requests")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return HttpError(503, "Service temporarily unavailable, try again", {"Retry-After": "1"})
    return HttpError(500, "Internal error")
