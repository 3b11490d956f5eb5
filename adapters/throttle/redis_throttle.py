"""The throttle in Redis, so every replica spends one budget and pauses after one 429.

Each key is a sorted set of the calls in the last window (a sliding-window log); one Lua script
checks every key of a call and takes a slot in each, or says how long to wait, atomically and on
Redis's clock, so replicas with skewed clocks still agree. A 429's ``Retry-After`` is a key
``throttled_until:<key>`` that expires when the pause ends.

If Redis stops answering, the gateway keeps going on a per-process limiter (logged): a 429 is
then possible, and handled by the client's retries, where refusing every call would stop all
work.

LIMITATIONS: one Redis node (a cluster would need the keys of one call in one hash slot); the
fallback's budget is per process, not shared.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.throttle import WINDOW, LocalThrottle, Throttled

log = structlog.get_logger("gateway.throttle")

#: KEYS: the call logs, then the pause keys, in the same order. ARGV: limit, window ms, member.
#: Returns 0 after taking a slot of every key, else the milliseconds to wait.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = #KEYS / 2
local wait = 0
for i = 1, n do
  local paused = redis.call('PTTL', KEYS[n + i])
  if paused > wait then wait = paused end
  if limit > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local count = redis.call('ZCARD', KEYS[i])
    if count >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
      local free = tonumber(oldest[2]) + window - now
      if free > wait then wait = free end
    end
  end
end
if wait > 0 then return wait end
if limit > 0 then
  for i = 1, n do
    redis.call('ZADD', KEYS[i], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[i], window)
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
    def __init__(
        self,
        url: str,
        limit: int,
        window: float = WINDOW,
        *,
        prefix: str = "pcgw:throttle:",
    ) -> None:
        self.limit = limit
        self.window = window
        self._prefix = prefix
        self._redis: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._acquire: Any = self._redis.register_script(_ACQUIRE)
        self._pause: Any = self._redis.register_script(_PAUSE)
        self._fallback = LocalThrottle(limit, window)

    async def acquire(self, keys: Sequence[str], *, max_wait: float | None = None) -> None:
        calls = [f"{self._prefix}{key}" for key in keys]
        pauses = [self._paused_key(key) for key in keys]
        args = [self.limit, max(1, round(self.window * 1000))]
        while True:
            try:
                ms = int(
                    await self._acquire(keys=[*calls, *pauses], args=[*args, uuid.uuid4().hex])
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
