"""structlog set up for JSON lines, and the one canonical log line per request."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


def configure(level: str = "info") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class AccessLogger(AbstractAccessLogger):
    """One JSON line per request, with the ids a support ticket would quote."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "ms": round(time * 1000, 2),
            "msRequestId": response.headers.get("MS-RequestId"),
            "msCorrelationId": response.headers.get("MS-CorrelationId"),
        }
        structlog.get_logger("simulator.access").info("request", **fields)
