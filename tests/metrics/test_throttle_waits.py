"""Throttle waits as both throttles count them: each sleep for a slot, with its seconds; a call
refused for a wait too long is no wait (the client counts it as a refusal)."""

from __future__ import annotations

import pytest

from adapters.throttle import RedisThrottle
from gateway.metrics import GatewayMetrics
from gateway.throttle import LocalThrottle, Throttled
from tests.scaleout.conftest import redis_url  # noqa: F401


def waits(metrics: GatewayMetrics) -> tuple[float, float]:
    registry = metrics.registry
    return (
        registry.get_sample_value("pcgw_throttle_waits_total") or 0.0,
        registry.get_sample_value("pcgw_throttle_wait_seconds_total") or 0.0,
    )


async def test_the_local_throttle_counts_the_paced_call_and_not_the_refused_one() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    metrics = GatewayMetrics()
    throttle = LocalThrottle(60, burst=1, clock=lambda: now[0], sleep=sleep, metrics=metrics)
    await throttle.acquire(["partner:t"])
    assert waits(metrics) == (0, 0)
    await throttle.acquire(["partner:t"])  # one a second: this one sleeps a second
    assert waits(metrics) == (1, pytest.approx(1.0))
    with pytest.raises(Throttled):
        await throttle.acquire(["partner:t"], max_wait=0.5)
    assert waits(metrics) == (1, pytest.approx(1.0))


async def test_the_redis_throttle_counts_a_wait_for_a_pause_after_a_429(redis_url: str) -> None:  # noqa: F811
    metrics = GatewayMetrics()
    throttle = RedisThrottle(redis_url, 0, metrics=metrics)
    try:
        await throttle.throttled(["partner:t"], 0.2)
        await throttle.acquire(["partner:t"])
    finally:
        await throttle.close()
    count, seconds = waits(metrics)
    assert count >= 1
    assert 0 < seconds <= 0.2  # the pause's own length, as Redis counted it down
