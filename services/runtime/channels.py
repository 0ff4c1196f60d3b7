"""gRPC channels to Chirp's services, with TLS when the settings give a CA to verify servers against."""

from pathlib import Path

import grpc

from services.runtime.config import Settings


def _credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    if not settings.grpc_tls_ca_file:
        return None
    return grpc.ssl_channel_credentials(root_certificates=Path(settings.grpc_tls_ca_file).read_bytes())


def aio_channel(settings: Settings, address: str) -> grpc.aio.Channel:
    """For services (asyncio)."""
    credentials = _credentials(settings)
    return grpc.aio.secure_channel(address, credentials) if credentials else grpc.aio.insecure_channel(address)


def channel(settings: Settings, address: str, *interceptors: grpc.UnaryUnaryClientInterceptor) -> grpc.Channel:
    """For the CLI and tests (blocking calls), with client interceptors (the credential, say)."""
    credentials = _credentials(settings)
    plain = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    return grpc.intercept_channel(plain, *interceptors) if interceptors else plain
