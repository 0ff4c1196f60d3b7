"""Structured logs: JSON lines for machines, readable lines on a terminal."""

import logging
import sys

import structlog


def configure_logging(log_format: str = "auto", level: str = "INFO") -> None:
    """Route structlog and the standard library (aiokafka, cassandra-driver, faust) through one renderer."""
    use_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    renderer = structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The Cassandra driver is chatty about topology at INFO.
    logging.getLogger("cassandra").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("cassandra.protocol").addFilter(_without_expected_server_warnings)


# Server warnings about what Chirp does on purpose: counting the edges of one page's posts in one query (an IN over
# at most 100 partitions) instead of one query each.
_EXPECTED_SERVER_WARNINGS = ("Server warning: Aggregation query used on multiple partition keys",)


def _without_expected_server_warnings(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(_EXPECTED_SERVER_WARNINGS)
