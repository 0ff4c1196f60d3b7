"""Start-up steps every process shares."""

import asyncio
import sys

from pydantic import ValidationError

from services.runtime.config import Settings
from services.runtime.ids import SnowflakeIds, default_worker_id
from services.runtime.logging import configure_logging


def settings_and_logging() -> Settings:
    """Read settings (exit with the offending variable named when one is malformed), set up logging and choose the
    event loop every loop of the process is made by (faust's and grpc.aio's included)."""
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(f"CHIRP_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        sys.exit(f"invalid configuration: {problems}")
    configure_logging(settings.log_format, settings.log_level)
    if settings.event_loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return settings


def id_generator(settings: Settings) -> SnowflakeIds:
    return SnowflakeIds(settings.worker_id if settings.worker_id >= 0 else default_worker_id())
