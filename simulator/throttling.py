"""Partner Center's rate limit: a sliding minute per partner tenant, on the wall clock.

Refused calls do not count; ``rateLimitPerMinute: 0`` turns the limit off. The 429 carries
``Retry-After`` in seconds and Microsoft's throttling body, whose N equals ``Retry-After``.

LIMITATIONS: one budget per partner tenant across all routes; Microsoft also keys some limits per
partner-and-customer pair and per resource.
"""

from __future__ import annotations

import math
import time
from collections import deque

from aiohttp import web

from simulator.wire import respond

WINDOW = 60.0


def retry_after(windows: dict[str, deque[float]], tenant: str, limit: int) -> int | None:
    """Count this call, or say how many seconds to wait before the next one can pass."""
    if limit <= 0:
        return None
    now = time.monotonic()
    window = windows.get(tenant)
    if window is None:
        window = windows[tenant] = deque()
    while window and window[0] <= now - WINDOW:
        window.popleft()
    if len(window) >= limit:
        return max(1, math.ceil(window[len(window) - limit] + WINDOW - now))
    window.append(now)
    return None


def throttled(seconds: int) -> web.Response:
    return respond(
        {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds} seconds."},
        status=429,
        headers={"Retry-After": str(seconds)},
    )
