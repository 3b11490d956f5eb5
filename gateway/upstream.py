"""The gateway's port to Partner Center: the one call it makes, what comes back, and how it fails.

``adapters/partner_center`` fills this port over HTTP; the workflows only see this module.

Failures:

::

    UpstreamError
    ├── PartnerCenterError      Microsoft answered 4xx/5xx; ``code`` is Microsoft's, kept as is
    │   └── UnreadableAnswer    an answer (any status) that is not JSON where JSON was due, or
    │                           larger than the gateway reads; its status kept
    └── UpstreamUnavailable     no answer at all (connection refused or dropped, timeout)

Both carry the ``MS-RequestId`` of the attempt, so an operator can quote it to Microsoft.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol


class UpstreamError(Exception):
    def __init__(self, message: str, *, ms_request_id: str | None) -> None:
        super().__init__(message)
        self.ms_request_id = ms_request_id


class PartnerCenterError(UpstreamError):
    """An HTTP error answer. ``code`` is Microsoft's integer code (``None`` when the body has
    none, e.g. the throttling body); ``retry_after`` is the ``Retry-After`` header in seconds."""

    def __init__(
        self,
        status: int,
        code: int | None,
        description: str,
        *,
        ms_request_id: str | None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} / {code}: {description}", ms_request_id=ms_request_id)
        self.status = status
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.body = body

    @property
    def retryable(self) -> bool:
        """429 and 5xx may succeed on a later attempt; every other 4xx will not."""
        return self.status == 429 or self.status >= 500

    @classmethod
    def from_answer(
        cls, status: int, raw: bytes, headers: Any, ms_request_id: str | None
    ) -> PartnerCenterError:
        retry_after = _seconds(headers.get("Retry-After")) if headers is not None else None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        code: int | None = None
        description = raw[:300].decode(errors="replace") if raw else f"HTTP {status}"
        if isinstance(body, dict):
            if "code" in body:
                try:
                    code = int(body["code"])
                except (TypeError, ValueError):
                    code = None
                description = str(body.get("description") or description)
            elif "message" in body:  # the throttling body {"statusCode", "message"}
                description = str(body["message"])
        return cls(status, code, description, ms_request_id=ms_request_id,
                   retry_after=retry_after, body=body)  # fmt: skip


class UnreadableAnswer(PartnerCenterError):
    """An answer the gateway cannot use. Its status is kept, so a 5xx is retried like any other.
    A 2xx is asked again inside the same call (the client's retries, same ``MS-RequestId``): the
    change may have been made and only its answer spoiled on the way, and Partner Center answers
    a repeat with what it did instead of doing it twice. A 4xx, or a 2xx unreadable on every
    attempt, fails its step saying what came back (for a 2xx: that the change may have been
    made, so check before submitting again)."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        ms_request_id: str | None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, None, description, ms_request_id=ms_request_id,
                         retry_after=retry_after)  # fmt: skip


class UpstreamUnavailable(UpstreamError):
    """No answer: whether Microsoft applied a write is unknown, so the retry must carry the same
    ``MS-RequestId``."""


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    ms_request_id: str


class PartnerCenter(Protocol):
    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        """One logical call (retried inside with one ``MS-RequestId``); raises
        :class:`PartnerCenterError` or :class:`UpstreamUnavailable`."""
