"""Reading Partner Center's answers with a ceiling: a body is read only up to a limit, so a
misbehaving upstream (or a proxy's error page, or a decompression bomb) cannot fill the
gateway's memory; what is too large or is not JSON becomes an ``UnreadableAnswer`` with the
answer's status, never an exception nobody expected."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from gateway.upstream import UnreadableAnswer

CHUNK = 64 * 1024


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than ``limit`` bytes (after decompression).
    A declared length over the limit is refused without reading; an undeclared or encoded one
    is read in chunks and given up on as soon as it passes the limit."""
    length = resp.content_length
    if length is not None and length > limit:
        return None
    if length is not None and not resp.headers.get("Content-Encoding"):
        return await resp.read()
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def too_large(status: int, limit: int, request_id: str | None) -> UnreadableAnswer:
    return UnreadableAnswer(status, f"a body larger than the {limit:,} bytes the gateway reads",
                            ms_request_id=request_id)  # fmt: skip


def excerpt(raw: bytes, size: int = 60) -> str:
    """The start of a body, JSON-quoted so no control character or markup is passed on raw."""
    text = raw[:size].decode("utf-8", errors="replace")
    return json.dumps(text + ("…" if len(raw) > size else ""))


def parse_json(status: int, raw: bytes, content_type: str, request_id: str | None) -> Any:
    """A successful answer's JSON (None for an empty body)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise UnreadableAnswer(
            status,
            f"a body that is not JSON ({content_type or 'no content type'}, {len(raw):,} bytes, "
            f"starting {excerpt(raw)})",
            ms_request_id=request_id,
        ) from None
