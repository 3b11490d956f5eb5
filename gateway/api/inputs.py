"""What the gateway accepts from the internet before any handler logic sees it: strict JSON
bodies, JSON content types, header ids that are safe to echo, and GUID path ids.

Each check raises :class:`ApiError` (400, or 415 for a content type) naming the field and the
rule, *before* anything is journaled or sent to Partner Center, so a refusal never leaves half an
operation behind. ``ApiError`` lives here, below ``gateway.api.errors`` (which renders it and
re-exports it), so the checks and the middleware that runs them need no import cycle.

Why stricter than ``json.loads`` or pydantic alone: both take the last of two equal keys (the
reader of a journaled request and the sender may disagree on which one counted), both read
``NaN``/``Infinity`` and ``1e999`` as floats no JSON peer can send back, and an unpaired
surrogate or a NUL in a string passes parsing only to fail later, in the database (PostgreSQL
refuses NUL in text) or on the way to Partner Center — as a 500 instead of a 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

#: Partner Center's customer, subscription and transfer ids are GUIDs, and so are the
#: gateway's operation ids; anything else cannot name one, so it is refused before any call.
#: Use ``fullmatch``: ``$`` would let a trailing newline through.
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
#: Deeper nesting than any request of ours needs; past it a body is refused, not walked.
MAX_DEPTH = 32
#: Longer integers than any field needs (Python refuses over 4,300 digits with a ValueError).
MAX_INT_DIGITS = 40
#: The longest ``X-Correlation-Id`` echoed back (``Idempotency-Key`` has its own, in operations).
MAX_CORRELATION_ID = 128
JSON_TYPES = ("application/json",)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ApiError(Exception):
    """A refusal the caller can act on: status, a stable ``code``, a sentence, the field, and
    for a 503 when to try again (``Retry-After``, seconds)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.retry_after = retry_after


def shown(value: str, limit: int = 60) -> str:
    """User text quoted for a message: JSON-escaped (no control character or quote survives
    raw) and cut short, so an error body never carries a payload back whole."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    return json.dumps(cut)


def path_guid(request: web.Request, name: str) -> str:
    """The path's ``{name}`` id, which must be a GUID."""
    value = request.match_info[name]
    if not GUID.fullmatch(value):
        raise ApiError(400, "invalid_request",
                       f"{name} id {shown(value)} must be a GUID (8-4-4-4-12 hexadecimal digits)", name)  # fmt: skip
    return value


class _Refused(Exception):
    """Raised from inside ``json.loads`` hooks; carries the rule broken."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {shown(key)} appears twice in one object; give each key once")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; numbers must be finite")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {shown(text, 30)} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate (``"\ud800"``)
        return True
    return False


def _check_tree(root: Any) -> None:
    """Depth and string content, walked without recursion (a deep body must not recurse)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise _Refused(f"the body nests deeper than {MAX_DEPTH} levels")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, item in items:
                if isinstance(key, str) and _bad_text(key):
                    raise _Refused("a key holds a NUL character or an unpaired surrogate")
                stack.append((item, depth + 1))
        elif isinstance(node, str) and _bad_text(node):
            raise _Refused("a string holds a NUL character or an unpaired surrogate")


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object under the strict rules above, or a 400 naming the rule."""

    def refuse(rule: str) -> ApiError:
        return ApiError(400, "invalid_json", f"the request body is not valid JSON: {rule}", "body")

    if raw.startswith(b"\xef\xbb\xbf"):
        raise refuse("it starts with a byte-order mark; send UTF-8 without one")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(
            f"it is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_float=_finite,
            parse_int=_bounded_int,
        )
        _check_tree(value)
    except _Refused as exc:
        raise refuse(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise refuse(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise refuse(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # defensive: a number Python cannot convert
        raise refuse(str(exc)[:100]) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        raise ApiError(400, "invalid_request",
                       f"the request body must be a JSON object, not {'null' if value is None else kind}",
                       "body")  # fmt: skip
    return value


def check_content_type(request: web.Request) -> None:
    """A write that carries a body must say it is JSON (in UTF-8): a form or a text body is
    refused with 415 rather than guessed at."""
    if request.method not in WRITE_METHODS or not request.body_exists:
        return
    kind = request.content_type
    charset = request.charset
    if kind not in JSON_TYPES and not (kind.startswith("application/") and kind.endswith("+json")):
        given = "none" if "Content-Type" not in request.headers else shown(kind, 80)
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be application/json (given: {given})", "Content-Type")  # fmt: skip
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type charset must be utf-8 (given: {shown(charset, 40)})", "Content-Type")  # fmt: skip


def correlation_id(request: web.Request) -> str | None:
    """The caller's ``X-Correlation-Id`` (echoed in a header and logged), or None when absent;
    one that could not be echoed safely is refused, never silently swapped."""
    value = request.headers.get("X-Correlation-Id")
    if value is None or value == "":
        return None
    if len(value) > MAX_CORRELATION_ID or not all(" " <= c <= "~" for c in value):
        raise ApiError(400, "invalid_correlation_id",
                       f"X-Correlation-Id must be 1 to {MAX_CORRELATION_ID} printable ASCII characters",
                       "X-Correlation-Id")  # fmt: skip
    return value
