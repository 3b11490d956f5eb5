"""The throttle in front of Partner Center: a budget per key, and a pause after a 429.

Microsoft limits calls per partner tenant and per partner-and-customer pair, and answers 429 with
``Retry-After`` once a budget is spent. Spending the budget ourselves keeps the 429s away; when one
comes anyway (another tool on the same tenant, a lower limit than configured), every caller of the
same key pauses until ``Retry-After`` has passed instead of each learning it from its own 429.

Keys are plain strings (``partner:<tenant>``, ``partner:<tenant>:customer:<id>``); a call takes a
slot from every key it names, and only when all of them have one.

``Throttle`` is the port; ``LocalThrottle`` serves one process. ``adapters/throttle`` shares the
budget and the pauses between replicas through Redis.

LIMITATIONS: the window slides over the last ``window`` seconds (like the simulator's), not
Microsoft's exact and undocumented algorithm; callers woken at the same time race for freed slots
with no ordering between them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

#: Microsoft's limits are per minute.
WINDOW = 60.0


class Throttled(Exception):
    """The wait for a slot is longer than the caller is willing to hold a worker for."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"throttled for {seconds:.1f} s")
        self.seconds = seconds


class Throttle(Protocol):
    async def acquire(self, keys: Sequence[str], *, max_wait: float | None = None) -> None:
        """Wait until every key has a slot and none is paused, then take one slot of each.

        A wait longer than ``max_wait`` raises :class:`Throttled` at once, without taking any."""

    async def throttled(self, keys: Sequence[str], seconds: float) -> None:
        """Pause every key for ``seconds`` (a 429's ``Retry-After``); never shortens a pause."""

    async def close(self) -> None: ...


class LocalThrottle:
    """A sliding-window log per key, in this process. ``limit`` 0 turns the budget off (pauses
    after a 429 still apply)."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        self._paused: dict[str, float] = {}

    async def acquire(self, keys: Sequence[str], *, max_wait: float | None = None) -> None:
        while True:
            now = self._clock()
            wait = max((self._wait(key, now) for key in keys), default=0.0)
            if wait <= 0:
                for key in keys:
                    self._calls.setdefault(key, deque()).append(now)
                return
            if max_wait is not None and wait > max_wait:
                raise Throttled(wait)
            await self._sleep(wait)

    async def throttled(self, keys: Sequence[str], seconds: float) -> None:
        until = self._clock() + seconds
        for key in keys:
            self._paused[key] = max(self._paused.get(key, until), until)

    async def close(self) -> None:
        self._calls.clear()
        self._paused.clear()

    def _wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` has a free slot and no pause (0 or less: now)."""
        wait = self._paused.get(key, now) - now
        if wait <= 0:
            self._paused.pop(key, None)
        if self.limit <= 0:
            return wait
        calls = self._calls.get(key)
        if calls is None:
            return wait
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if not calls:
            del self._calls[key]
        elif len(calls) >= self.limit:
            wait = max(wait, calls[len(calls) - self.limit] + self.window - now)
        return wait


def keys_for(tenant: str, path: str) -> list[str]:
    """The budgets one call to ``path`` spends: the partner's, and the pair's under a customer."""
    keys = [f"partner:{tenant}"]
    parts = path.split("?", 1)[0].split("/")
    if len(parts) > 3 and parts[1] == "v1" and parts[2] == "customers" and parts[3]:
        keys.append(f"partner:{tenant}:customer:{parts[3].lower()}")
    return keys
