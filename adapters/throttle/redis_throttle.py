"""The throttle in Redis: every replica spends one budget, keeps one pace, pauses after one 429.

Each key is a sorted set of the calls in the last window (the sliding-window log, the hard cap)
and, next to it, ``tat:<key>``: the theoretical arrival time of its next paced call (GCRA),
expiring once it has passed, since a past one means the whole burst is back. One Lua script checks
every key of a call against both and against its pause, and takes a slot in each or says how long
to wait, atomically and on Redis's clock, so replicas with skewed clocks still agree. It is the
same algorithm as :class:`gateway.throttle.LocalThrottle`, whose docstring says why calls are paced
and why a burst needs room in the window. A 429's ``Retry-After`` is a key
``throttled_until:<key>`` that expires when the pause ends.

If Redis stops answering, the gateway keeps going on a per-process limiter (logged): a 429 is
then possible, and handled by the client's retries, where refusing every call would stop all
work.

LIMITATIONS: one Redis node (a cluster would need the keys of one call in one hash slot); the
fallback's budget and pace are per process, not shared; times are kept to the microsecond Redis's
``TIME`` gives, rounded to a millisecond in the wait returned.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.throttle import WINDOW, LocalThrottle, Throttled, check_burst, default_burst

if TYPE_CHECKING:
    from gateway.metrics import GatewayMetrics

log = structlog.get_logger("gateway.throttle")

#: KEYS: the call logs, the pause keys, then the pace keys, in the same order. ARGV: limit,
#: window ms, member, burst. Returns 0 after taking a slot of every key, else the milliseconds to
#: wait. Times are milliseconds with a fraction, written with string.format: Redis turns a bare Lua
#: number into 14 significant digits, a tenth of a millisecond at today's epoch.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local burst = tonumber(ARGV[4])
local interval = 0
if limit > 0 then interval = window / limit end
local n = #KEYS / 3
local wait = 0
local counts = {}
local tats = {}
for i = 1, n do
  local paused = redis.call('PTTL', KEYS[n + i])
  if paused > wait then wait = paused end
  if limit > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%.3f', now - window))
    local count = redis.call('ZCARD', KEYS[i])
    counts[i] = count
    if count >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
      local free = tonumber(oldest[2]) + window - now
      if free > wait then wait = free end
    end
    local tat = tonumber(redis.call('GET', KEYS[2 * n + i]) or now)
    if tat < now then tat = now end
    tats[i] = tat
    local paced = tat - (burst - 1) * interval - now
    if paced > wait then wait = paced end
  end
end
if wait > 0.001 then return math.ceil(wait) end
if limit > 0 then
  local stamp = string.format('%.3f', now)
  for i = 1, n do
    redis.call('ZADD', KEYS[i], stamp, ARGV[3])
    redis.call('PEXPIRE', KEYS[i], math.ceil(window))
    local tat = tats[i] + interval
    if counts[i] + 1 > limit - burst then
      -- no room left for a whole burst: the credit is spent, the next call is paced
      if tat < now + burst * interval then tat = now + burst * interval end
    end
    redis.call('SET', KEYS[2 * n + i], string.format('%.3f', tat), 'PX', math.ceil(tat - now))
  end
end
return 0
"""

#: KEYS: pause keys. ARGV: milliseconds. A shorter pause never replaces a longer one.
_PAUSE = """
local ms = tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('PTTL', KEYS[i]) < ms then
    redis.call('SET', KEYS[i], '1', 'PX', ms)
  end
end
return 0
"""


class RedisThrottle:
    """``limit`` 0 turns the budget and the pace off; ``burst`` defaults to
    :func:`gateway.throttle.default_burst`."""

    def __init__(
        self,
        url: str,
        limit: int,
        window: float = WINDOW,
        *,
        burst: int | None = None,
        prefix: str = "pcgw:throttle:",
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.burst = check_burst(limit, default_burst(limit) if burst is None else burst)
        self._prefix = prefix
        self._redis: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._acquire: Any = self._redis.register_script(_ACQUIRE)
        self._pause: Any = self._redis.register_script(_PAUSE)
        #: Counts each sleep for a slot, here and in the fallback.
        self.metrics = metrics
        self._fallback = LocalThrottle(limit, window, burst=self.burst, metrics=metrics)

    async def acquire(self, keys: Sequence[str], *, max_wait: float | None = None) -> None:
        calls = [f"{self._prefix}{key}" for key in keys]
        pauses = [self._paused_key(key) for key in keys]
        paces = [f"{self._prefix}tat:{key}" for key in keys]
        window_ms = max(1, round(self.window * 1000))
        while True:
            member = uuid.uuid4().hex
            try:
                ms = int(
                    await self._acquire(
                        keys=[*calls, *pauses, *paces],
                        args=[self.limit, window_ms, member, self.burst],
                    )
                )
            except RedisError as exc:
                log.warning("throttle.unavailable", error=str(exc))
                await self._fallback.acquire(keys, max_wait=max_wait)
                return
            if ms <= 0:
                return
            wait = ms / 1000
            if max_wait is not None and wait > max_wait:
                raise Throttled(wait)
            if self.metrics is not None:
                self.metrics.throttle_waited(wait)
            await asyncio.sleep(wait)

    async def throttled(self, keys: Sequence[str], seconds: float) -> None:
        await self._fallback.throttled(keys, seconds)
        ms = math.ceil(seconds * 1000)
        if ms <= 0:
            return
        try:
            await self._pause(keys=[self._paused_key(key) for key in keys], args=[ms])
        except RedisError as exc:
            log.warning("throttle.unavailable", error=str(exc))

    async def close(self) -> None:
        await self._redis.aclose()

    def _paused_key(self, key: str) -> str:
        return f"{self._prefix}throttled_until:{key}"
