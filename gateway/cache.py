"""A small time-to-live cache for answers that change rarely (the catalog, a reseller that
passed its checks). Negative answers are never cached: a reseller who just accepted the
invitation must not wait for an old "no" to expire."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._items: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> V | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        expires, value = hit
        if self._clock() >= expires:
            del self._items[key]
            return None
        return value

    def put(self, key: str, value: V) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key] = (self._clock() + self._ttl, value)
