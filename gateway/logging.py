"""structlog JSON lines for the gateway, with a last processor that blanks anything secret:
values under secret-sounding keys, and any ``Bearer <token>`` inside a value (an error text that
quotes a header must not carry the token into the log)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

SECRET_WORDS = ("secret", "password", "token", "authorization", "credential", "api_key")
BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            event[key] = "[redacted]"
        elif isinstance(value, str) and "earer" in value:
            event[key] = BEARER.sub(r"\1[redacted]", value)
    return event


def configure(level: str = "info", *, cache: bool = True, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    logging.basicConfig(format="%(message)s", stream=stream, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,  # after the traceback is text, so a token quoted in it is blanked too
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=cache,
    )
