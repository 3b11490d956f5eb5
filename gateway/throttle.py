"""The throttle in front of Partner Center: a budget per key, paced, and a pause after a 429.

Microsoft limits calls per partner tenant and per partner-and-customer pair, and answers 429 with
``Retry-After`` once a budget is spent. Spending the budget ourselves keeps the 429s away; when one
comes anyway (another tool on the same tenant, a lower limit than configured), every caller of the
same key pauses until ``Retry-After`` has passed instead of each learning it from its own 429.

Each key has two gates, and a call passes only when both open; its wait is the longer of the two:

* a sliding-window log, the hard cap: never more than ``limit`` calls in any ``window``;
* pacing (GCRA, one "theoretical arrival time" per key): calls leave ``window / limit`` seconds
  apart, after a burst of at most ``burst`` calls from a key that was quiet.

Why pace when the log alone keeps the count: Partner Center counts a call when it *arrives*, after
a latency that differs from call to call, so its window holds our calls shifted by a jitter. A log
alone lets a saturated key send its whole budget at once, and again each time those calls leave the
window; at that edge Partner Center's window still holds late arrivals of the old burst while the
new one lands, and answers 429 (measured: dozens of them at 480/min against 500/min). Paced, only
the calls within a jitter of the edge can be counted twice: a handful, inside the margin between
our limit and Microsoft's.

The burst is credit the window has to have room for twice: the calls sent now, and their echo when
they leave the window. So a call that leaves fewer than ``burst`` free slots spends whatever credit
is left: a saturated key's window, rolling over its first burst, frees slots one interval apart, not
all at once. The default burst, a tenth of the limit, lets a quiet key do a short piece of work
(an order's dozen calls) at once; it can be at most half the limit, where that room runs out.

Keys are plain strings (``partner:<tenant>``, ``partner:<tenant>:customer:<id>``); a call takes a
slot from every key it names, and only when all of them have one.

``Throttle`` is the port; ``LocalThrottle`` serves one process. ``adapters/throttle`` shares the
budget, the pacing and the pauses between replicas through Redis.

LIMITATIONS: the window slides over the last ``window`` seconds (like the simulator's), not
Microsoft's exact and undocumented algorithm; the margin between ``limit`` and Microsoft's limit
must cover the calls one jitter of latency can shift across the window's edge (at 480/min, one per
125 ms), or a 429 still comes; callers woken at the same time race for a slot with no ordering
between them; with ``limit`` 0 there is no pacing either.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.metrics import GatewayMetrics

#: Microsoft's limits are per minute.
WINDOW = 60.0

#: A wait this short is no wait: float rounding of a paced schedule, far below any clock a peer has.
_TOLERANCE = 1e-6


def default_burst(limit: int) -> int:
    """A tenth of the limit: a quiet key runs a short piece of work at once, and the rest is paced."""
    return max(1, limit // 10)


def check_burst(limit: int, burst: int) -> int:
    """``burst``, or ValueError when no window of ``limit`` calls has room for it twice."""
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst}")
    if limit > 0 and burst > (limit + 1) // 2:
        raise ValueError(
            f"burst must be at most half the limit ({(limit + 1) // 2} of {limit}), not {burst}"
        )
    return burst


class Throttled(Exception):
    """The wait for a slot is longer than the caller is willing to hold a worker for."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"throttled for {seconds:.1f} s")
        self.seconds = seconds


class Throttle(Protocol):
    async def acquire(self, keys: Sequence[str], *, max_wait: float | None = None) -> None:
        """Wait until every key has a slot, its pace allows a call and no pause holds it, then
        take one slot of each.

        A wait longer than ``max_wait`` raises :class:`Throttled` at once, without taking any."""

    async def throttled(self, keys: Sequence[str], seconds: float) -> None:
        """Pause every key for ``seconds`` (a 429's ``Retry-After``); never shortens a pause."""

    async def close(self) -> None: ...


class LocalThrottle:
    """The log and the pace of each key, in this process. ``limit`` 0 turns both off (pauses
    after a 429 still apply); ``burst`` defaults to :func:`default_burst`."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.burst = check_burst(limit, default_burst(limit) if burst is None else burst)
        #: Seconds between two paced calls.
        self.interval = window / limit if limit > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        #: The theoretical arrival time of each key's next call; absent once it has passed.
        self._tat: dict[str, float] = {}
        self._paused: dict[str, float] = {}
        #: Counts each sleep for a slot (a call a rival beat to the slot sleeps again).
        self.metrics = metrics

    async def acquire(self, keys: Sequence[str], *, max_wait: float | None = None) -> None:
        while True:
            now = self._clock()
            wait = max((self._wait(key, now) for key in keys), default=0.0)
            if wait <= _TOLERANCE:
                if self.limit > 0:
                    for key in keys:
                        self._take(key, now)
                return
            if max_wait is not None and wait > max_wait:
                raise Throttled(wait)
            if self.metrics is not None:
                self.metrics.throttle_waited(wait)
            await self._sleep(wait)

    async def throttled(self, keys: Sequence[str], seconds: float) -> None:
        until = self._clock() + seconds
        for key in keys:
            self._paused[key] = max(self._paused.get(key, until), until)

    async def close(self) -> None:
        self._calls.clear()
        self._tat.clear()
        self._paused.clear()

    def _wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` has a free slot, its pace allows a call and no pause holds it
        (0 or less: now)."""
        wait = self._paused.get(key, now) - now
        if wait <= 0:
            self._paused.pop(key, None)
        if self.limit <= 0:
            return wait
        calls = self._calls.get(key)
        if calls is not None:
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if not calls:
                del self._calls[key]
            elif len(calls) >= self.limit:
                wait = max(wait, calls[len(calls) - self.limit] + self.window - now)
        tat = self._tat.get(key)
        if tat is not None:
            if tat <= now:
                del self._tat[key]  # quiet for long enough: the whole burst is back
            else:
                wait = max(wait, tat - (self.burst - 1) * self.interval - now)
        return wait

    def _take(self, key: str, now: float) -> None:
        calls = self._calls.setdefault(key, deque())
        calls.append(now)
        tat = max(self._tat.get(key, now), now) + self.interval
        if len(calls) > self.limit - self.burst:
            # no room left for a whole burst: the credit is spent, the next call is paced
            tat = max(tat, now + self.burst * self.interval)
        self._tat[key] = tat


def keys_for(tenant: str, path: str) -> list[str]:
    """The budgets one call to ``path`` spends: the partner's, and the pair's under a customer."""
    keys = [f"partner:{tenant}"]
    parts = path.split("?", 1)[0].split("/")
    if len(parts) > 3 and parts[1] == "v1" and parts[2] == "customers" and parts[3]:
        keys.append(f"partner:{tenant}:customer:{parts[3].lower()}")
    return keys
