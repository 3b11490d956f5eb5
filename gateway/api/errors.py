"""Northbound refusals, and the middleware that gives every request one correlation id, one
log line, and one error shape (``Problem``) — never a stack trace, never a 500 body with
internals."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from contracts.northbound.operations import Problem
from contracts.northbound.orders import PATTERN_RULES
from gateway.api import inputs
from gateway.api.inputs import ApiError as ApiError
from gateway.upstream import PartnerCenterError, UnreadableAnswer, UpstreamError

log = structlog.get_logger("gateway.http")
CORRELATION = web.RequestKey("correlation_id", str)
#: The request body limit ``create_app`` gave aiohttp (``client_max_size``), named in the 413.
MAX_BODY = web.AppKey("max_body_bytes", int)
M = TypeVar("M", bound=BaseModel)


def field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    # An unknown key is the caller's text: cut it short, it is named back in the answer.
    return (out if len(out) <= 100 else out[:100] + "…") or "body"


def from_validation(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    where = field_name(tuple(first["loc"]))
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"{where} is not a field of this request"
    elif kind == "missing":
        message = f"{where} is required"
    elif kind == "string_pattern_mismatch" and first["ctx"]["pattern"] in PATTERN_RULES:
        message = f"{where} must be {PATTERN_RULES[first['ctx']['pattern']]}"
    elif kind == "value_error":
        message = f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
    else:
        message = f"{where}: {first['msg']}"
    return ApiError(400, "invalid_request", message, where)


def parse_body(raw: bytes, model: type[M], *, empty: bytes | None = None) -> M:
    """A request body validated strictly; ``empty`` stands in for a blank body when the
    request may have none. The JSON rules (UTF-8, no repeated key, finite numbers, an object
    at the top) are checked first, in ``inputs.json_object``, for every write alike."""
    if not raw.strip():
        if empty is None:
            raise ApiError(400, "invalid_request",
                           "the request body is empty; a JSON object is required", "body")  # fmt: skip
        raw = empty
    inputs.json_object(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ApiError(400, "invalid_json",
                           f"the request body is not valid JSON: {first['msg']}", "body") from None  # fmt: skip
        raise from_validation(exc) from None


def problem(error: ApiError, correlation_id: str | None) -> web.Response:
    body = Problem(code=error.code, message=error.message, field=error.field,
                   correlation_id=correlation_id)  # fmt: skip
    response = web.Response(
        body=body.model_dump_json(by_alias=True, exclude_none=True),
        status=error.status,
        content_type="application/json",
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return response


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    refused: ApiError | None = None
    try:
        supplied = inputs.correlation_id(request)
    except ApiError as exc:  # answered below, under an id of our own
        supplied, refused = None, exc
    correlation_id = supplied or str(uuid.uuid4())
    request[CORRELATION] = correlation_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    response: web.StreamResponse
    try:
        if refused is not None:
            response = problem(refused, correlation_id)
        else:
            if request.match_info.http_exception is None:  # a route we serve: 404/405 first
                inputs.check_content_type(request)
            response = await handler(request)
    except ApiError as exc:
        response = problem(exc, correlation_id)
    except ValidationError as exc:
        response = problem(from_validation(exc), correlation_id)
    except web.HTTPRequestEntityTooLarge:
        limit = request.config_dict.get(MAX_BODY)
        response = problem(
            ApiError(413, "body_too_large",
                     f"the request body is larger than the gateway's limit of {limit} bytes "
                     "(PCGW_MAX_BODY_BYTES)", "body"),
            correlation_id,
        )  # fmt: skip
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        response = problem(
            ApiError(
                exc.status,
                code,
                f"{exc.reason}: {request.method} {inputs.shown(request.path, 200)}",
            ),
            correlation_id,
        )
    except Exception:
        log.exception("request.error", method=request.method, path=request.path)
        response = problem(
            ApiError(
                500,
                "internal_error",
                "The gateway failed to answer; the error is logged with this correlation id.",
            ),
            correlation_id,
        )
    response.headers["X-Correlation-Id"] = correlation_id
    log.info("request", method=request.method, path=request.path, status=response.status,
             ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip
    return response


@contextmanager
def upstream_read(missing: str) -> Iterator[None]:
    """A northbound read's Partner Center failures as the caller sees them: 403/404 → 404
    naming what is missing; throttled (429) or failing (5xx) even after the client's retries →
    503 with ``Retry-After`` (Microsoft's, else a few seconds); another refusal → 502 with
    Microsoft's status and code; an answer too large or not JSON → 502 saying so; no answer →
    503 to try again."""
    try:
        yield
    except UnreadableAnswer as exc:
        raise ApiError(
            502,
            "partner_center_unreadable",
            f"Partner Center answered HTTP {exc.status} with {exc.description}, which the gateway "
            "cannot read; try again later",
        ) from None
    except PartnerCenterError as exc:
        if exc.status in (403, 404):
            raise ApiError(404, "not_found", missing) from None
        if exc.retryable:
            raise ApiError(
                503,
                "partner_center_busy",
                f"Partner Center answered {exc.status} ({exc.description}); try again after the "
                "Retry-After seconds",
                retry_after=exc.retry_after if exc.retry_after is not None else 5,
            ) from None
        raise ApiError(
            502,
            "partner_center_error",
            f"Partner Center answered {exc.status} / {exc.code}: {exc.description}",
        ) from None
    except UpstreamError as exc:
        raise ApiError(
            503, "partner_center_unavailable", f"Partner Center did not answer ({exc}); try again"
        ) from None
