"""The throttle in front of Partner Center: per-key budgets, a shared pause after a 429, and the
gateway staying under Microsoft's limit so the simulator never has to refuse it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.throttle import LocalThrottle, Throttled, keys_for
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import PartnerClient

# The in-process limiter on a clock the test moves; sleeping advances it, so nothing really waits.


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def local(
    limit: int, clock: FakeClock, window: float = 60.0, burst: int | None = None
) -> LocalThrottle:
    return LocalThrottle(limit, window, burst=burst, clock=clock, sleep=clock.sleep)


P, Q = "partner:p", "partner:q"


async def saturate(throttle: LocalThrottle, clock: FakeClock, calls: int) -> list[float]:
    """The times ``calls`` calls offered back to back get their slots: a key with a queue."""
    times = []
    for _ in range(calls):
        await throttle.acquire([P])
        times.append(clock.now)
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest count of calls any sliding window (``(t - window, t]``) held."""
    return max(sum(1 for s in times if t - window < s <= t) for t in times)


async def test_a_saturated_key_sends_its_burst_at_once_then_one_call_per_interval() -> None:
    clock = FakeClock()
    times = await saturate(local(60, clock, burst=5), clock, 65)
    assert times[:5] == [1000.0] * 5
    # then one a second: the pace of 60 a minute, not the rest of the budget at once ...
    assert times[5:60] == [1001.0 + i for i in range(55)]
    # ... until the window is full (the burst was the 4 calls ahead of the pace): the next call
    # waits for the burst to leave the window
    assert times[60] == 1060.0
    assert most_in_any_window(times, 60.0) == 60


async def test_when_the_window_rolls_over_the_first_burst_no_second_burst_follows() -> None:
    clock = FakeClock()
    times = await saturate(local(60, clock, burst=5), clock, 200)
    # a window-only limiter sends the burst's five freed slots together at 1060 (and every
    # minute after); Partner Center, counting the same calls a little later, still holds some
    # of the old ones then and answers 429
    after = times[60:]
    assert after == [1060.0 + i for i in range(len(after))]
    assert most_in_any_window(times, 60.0) == 60
    assert most_in_any_window(times[5:], 5.0) == 5  # no five seconds after the first hold more


async def test_a_key_that_goes_quiet_gets_its_burst_back() -> None:
    clock = FakeClock()
    throttle = local(60, clock, burst=5)
    await saturate(throttle, clock, 5)
    clock.now += 60.0  # quiet for a window: neither the log nor the pace holds anything
    assert await saturate(throttle, clock, 6) == [1060.0] * 5 + [1061.0]


async def test_a_wait_beyond_max_wait_is_refused_at_once_without_taking_a_slot() -> None:
    clock = FakeClock()
    throttle = local(1, clock)
    await throttle.acquire([P])
    with pytest.raises(Throttled) as refused:
        await throttle.acquire([P], max_wait=30)
    assert refused.value.seconds == 60.0
    assert clock.slept == []
    clock.now += 60.0
    await throttle.acquire([P], max_wait=0)  # the refused call did not spend the new slot


async def test_the_wait_is_the_longer_of_the_pace_and_the_window() -> None:
    clock = FakeClock()
    throttle = local(3, clock, window=60.0, burst=2)  # a call every 20 s, two at once
    await throttle.acquire([P])
    await throttle.acquire([P])
    with pytest.raises(Throttled) as paced:
        await throttle.acquire([P], max_wait=0)
    assert paced.value.seconds == 20.0  # the pace holds the third call ...
    clock.now += 20.0
    await throttle.acquire([P], max_wait=0)
    with pytest.raises(Throttled) as full:
        await throttle.acquire([P], max_wait=0)
    assert full.value.seconds == 40.0  # ... the window the fourth, until the first two leave it


async def test_each_key_has_its_own_budget_and_a_call_spends_every_key_it_names() -> None:
    clock = FakeClock()
    throttle = local(4, clock, burst=2)
    pair_1, pair_2 = "partner:p:customer:1", "partner:p:customer:2"
    await throttle.acquire([P, pair_1])
    await throttle.acquire([P, pair_1])
    await throttle.acquire([Q, "partner:q:customer:1"])  # another partner: untouched budget
    await throttle.acquire([Q])
    assert clock.slept == []
    # another customer of the same partner: its pair is fresh, but the partner's burst is spent
    with pytest.raises(Throttled):
        await throttle.acquire([P, pair_2], max_wait=1)
    with pytest.raises(Throttled):
        await throttle.acquire([Q], max_wait=1)


async def test_a_paused_customer_pair_does_not_hold_the_partners_other_calls() -> None:
    clock = FakeClock()
    throttle = local(100, clock)
    pair_1 = "partner:p:customer:1"
    await throttle.throttled([pair_1], 30.0)
    await throttle.acquire([P])
    await throttle.acquire([P, "partner:p:customer:2"])
    assert clock.slept == []
    with pytest.raises(Throttled):
        await throttle.acquire([P, pair_1], max_wait=1)


def test_a_burst_must_fit_in_the_window_twice() -> None:
    with pytest.raises(ValueError, match="at most half the limit"):
        LocalThrottle(60, burst=31)
    with pytest.raises(ValueError, match="at least 1"):
        LocalThrottle(60, burst=0)
    assert LocalThrottle(60, burst=30).burst == 30
    assert LocalThrottle(500).burst == 50  # the default: a tenth
    assert LocalThrottle(0, burst=1000).burst == 1000  # no budget, nothing to fit in


async def test_a_429_pauses_every_caller_of_its_keys_for_retry_after() -> None:
    clock = FakeClock()
    throttle = local(100, clock)
    await throttle.throttled([P, "partner:p:customer:1"], 5.0)
    await throttle.acquire([Q])  # another partner goes on
    assert clock.slept == []
    await throttle.acquire([P, "partner:p:customer:2"])
    assert clock.slept == [5.0]
    await throttle.acquire([P])  # the pause is over for everyone
    assert clock.slept == [5.0]


async def test_a_shorter_retry_after_never_shortens_a_pause() -> None:
    clock = FakeClock()
    throttle = local(0, clock)  # no budget at all: pauses still apply
    await throttle.throttled([P], 10.0)
    await throttle.throttled([P], 2.0)
    await throttle.acquire([P])
    assert clock.slept == [10.0]


def test_keys_follow_microsofts_partner_and_partner_customer_limits() -> None:
    assert keys_for("T", "/v1/customers") == ["partner:T"]
    assert keys_for("T", "/v1/products?country=US") == ["partner:T"]
    assert keys_for("T", "/v1/customers/ABC-1/orders/9") == [
        "partner:T",
        "partner:T:customer:abc-1",
    ]
    assert keys_for("T", "/v1/customers/abc-1?x=1") == ["partner:T", "partner:T:customer:abc-1"]


# The Redis limiter: two instances stand for two replicas.


def redis_throttle() -> Any:
    """The Redis adapter, or a skip where the redis client is not installed."""
    return pytest.importorskip("adapters.throttle")


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[list[Any]]:
    module = redis_throttle()
    prefix = f"test:{uuid.uuid4().hex}:"
    made: list[Any] = []

    def make(limit: int, window: float = 60.0, burst: int | None = None) -> Any:
        made.append(module.RedisThrottle(redis_url, limit, window, burst=burst, prefix=prefix))
        return made[-1]

    yield [make]
    for throttle in made:
        await throttle.close()


async def test_two_replicas_spend_one_budget_in_redis(replicas: list[Any]) -> None:
    [make] = replicas
    a, b = make(6, burst=3), make(6, burst=3)  # a call every 10 s, three at once
    await a.acquire([P])
    await b.acquire([P])
    await a.acquire([P])
    with pytest.raises(Throttled) as refused:  # b's own burst would still have two calls
        await b.acquire([P], max_wait=1)
    assert 9 < refused.value.seconds <= 10
    await b.acquire([Q], max_wait=0)  # another partner's budget is its own


async def offer(throttles: list[Any], calls: int, callers: int = 3) -> list[float]:
    """Seconds after the first admission at which ``calls`` calls, kept queued by ``callers``
    tasks on each throttle, got their slots."""
    admitted: list[float] = []

    async def caller(throttle: Any) -> None:
        while len(admitted) < calls:
            await throttle.acquire([P])
            admitted.append(time.monotonic())

    await asyncio.gather(*(caller(t) for t in throttles for _ in range(callers)))
    return [t - admitted[0] for t in sorted(admitted)]


def per_quarter_second(times: list[float]) -> list[int]:
    counts = [0] * (int(times[-1] / 0.25) + 1)
    for t in times:
        counts[int(t / 0.25)] += 1
    return counts


async def test_replicas_saturating_a_key_in_redis_get_its_burst_then_paced_calls(
    replicas: list[Any],
) -> None:
    [make] = replicas
    # 20 calls per 2 s: one every 0.1 s, ten at once; two replicas keep calls queued for 3 s
    a, b = make(20, window=2.0, burst=10), make(20, window=2.0, burst=10)
    times = await offer([a, b], 30)
    quarters = per_quarter_second(times)
    # the first quarter second: the burst and the first paced calls, not the whole budget
    assert 10 <= quarters[0] <= 13, quarters
    # then about 2.5 a quarter second, also once the window rolls over the first burst at 2 s:
    # a window-only limiter would send ten there (twenty without any burst limit)
    assert max(quarters[1:]) <= 4, quarters
    assert sum(quarters[1:4]) >= 4, quarters  # paced, not held until the window rolls
    assert [t for t in times if 1.1 < t < 1.9] == []  # the window is full: the hard cap holds
    assert most_in_any_window(times, 2.0) <= 21  # (one of tolerance for the local clock)


async def test_a_replica_waits_in_redis_until_the_window_frees_a_slot(
    replicas: list[Any],
) -> None:
    [make] = replicas
    a, b = make(2, window=0.3), make(2, window=0.3)
    started = time.perf_counter()
    await a.acquire([P])
    await b.acquire([P])
    await b.acquire([P])
    waited = time.perf_counter() - started
    assert 0.25 < waited < 1.0


async def test_one_replicas_429_makes_the_other_wait_for_retry_after(replicas: list[Any]) -> None:
    [make] = replicas
    a, b = make(100), make(100)
    await a.throttled([P, "partner:p:customer:1"], 0.4)
    with pytest.raises(Throttled) as refused:
        await b.acquire([P, "partner:p:customer:2"], max_wait=0.1)
    assert 0.2 < refused.value.seconds <= 0.4
    await b.acquire([Q], max_wait=0)
    started = time.perf_counter()
    await b.acquire([P])
    assert 0.2 < time.perf_counter() - started < 1.0


async def test_a_redis_outage_falls_back_to_the_local_limiter_instead_of_stopping_calls() -> None:
    throttle = redis_throttle().RedisThrottle("redis://127.0.0.1:1/0", 1)
    try:
        await throttle.acquire([P], max_wait=0)
        with pytest.raises(Throttled):  # the local budget still holds
            await throttle.acquire([P], max_wait=0)
    finally:
        await throttle.close()


# The gateway against the simulator, with the simulator's limit lowered.

SIM_LIMIT = 50
GATEWAY_LIMIT = 40
#: Half the limit, the most a burst may be: a purchase on a fresh gateway takes 12 calls (the
#: catalog's 4, then 8), two fresh replicas' 24 do not all fit. The rest is paced 1.5 s apart.
BURST = 20
#: A slot further away than this reschedules the step instead of holding a worker on it.
SHORT_WAIT = {"pc_max_retry_after_seconds": 0.5}
THROTTLED = {"pc_rate_limit_per_minute": GATEWAY_LIMIT, "throttle_burst": BURST, **SHORT_WAIT}


async def upstream_statuses(sim: PartnerClient) -> list[int]:
    """Statuses of every /v1 call Partner Center received (the control plane excluded)."""
    items = (await sim.sim("GET", "/requests?limit=10000"))["items"]
    return [item["status"] for item in items if item["path"].startswith("/v1/")]


async def submit_purchases(gw: Gateway, n: int) -> list[str]:
    orders = [purchase_order(prefix=f"thr{uuid.uuid4().hex[:8]}") for _ in range(n)]
    return [(await gw.submit("/v1/orders", order))["id"] for order in orders]


async def settle(sim: PartnerClient, seconds: float = 1.0) -> list[int]:
    """Statuses once the simulator has seen no new call for ``seconds``."""
    seen = -1
    while True:
        statuses = await upstream_statuses(sim)
        if len(statuses) == seen:
            return statuses
        seen = len(statuses)
        await asyncio.sleep(seconds)


async def test_the_gateway_paces_its_calls_so_partner_center_never_throttles_it(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    await sim.sim("PUT", "/config", {"rateLimitPerMinute": SIM_LIMIT})
    gw = await make_gateway(**THROTTLED)
    first = (await submit_purchases(gw, 1))[0]
    assert (await gw.wait(first))["status"] == "succeeded"  # one purchase fits in the burst
    ids = await submit_purchases(gw, 8)  # eight more (40 calls) do not: they are paced
    statuses = await settle(sim, 0.5)
    assert statuses.count(429) == 0
    # the burst, and a paced call or two (1.5 s apart) while the simulator settles: not the 40
    # calls a window-only limiter would send at once
    assert BURST <= len(statuses) <= BURST + 2
    ops = [await gw.operation(op_id) for op_id in ids]
    assert "failed" not in {op["status"] for op in ops}
    assert sum(op["status"] in ("accepted", "running") for op in ops) >= 6  # waiting their turn


async def test_without_its_limit_the_same_load_runs_into_partner_centers_429(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    await sim.sim("PUT", "/config", {"rateLimitPerMinute": SIM_LIMIT})
    # no own budget, and a long Retry-After reschedules the step instead of sleeping on it
    gw = await make_gateway(pc_rate_limit_per_minute=0, pc_max_retry_after_seconds=0.1)
    await submit_purchases(gw, 9)
    statuses = await settle(sim, 0.5)
    assert statuses.count(429) >= 1


async def test_replicas_on_redis_share_one_burst_and_pace_against_partner_center(
    make_gateway: MakeGateway, sim: PartnerClient, redis_url: str, tmp_path: Path
) -> None:
    await sim.sim("PUT", "/config", {"rateLimitPerMinute": SIM_LIMIT})
    shared = {"redis_url": redis_url, **THROTTLED}
    one = await make_gateway(database_url=f"sqlite:///{tmp_path / 'a.db'}", **shared)
    two = await make_gateway(database_url=f"sqlite:///{tmp_path / 'b.db'}", **shared)
    # a fresh gateway reads the catalog (4 calls) as it accepts its first order: one each first,
    # so neither of those reads comes after the workers have spent the burst
    for gw in (one, two, one, two):
        await submit_purchases(gw, 1)
    statuses = await settle(sim, 0.5)
    assert statuses.count(429) == 0
    # 34 calls wanted: one burst between them (each its own would be 34 at once), then paced
    assert BURST <= len(statuses) <= BURST + 2


async def test_a_429_seen_by_one_replica_pauses_the_other(
    make_gateway: MakeGateway, sim: PartnerClient, redis_url: str, tmp_path: Path
) -> None:
    shared = {"redis_url": redis_url, "pc_retry_backoff_seconds": 0.01}
    one = await make_gateway(database_url=f"sqlite:///{tmp_path / 'a.db'}", **shared)
    two = await make_gateway(database_url=f"sqlite:///{tmp_path / 'b.db'}", **shared)
    # the first reseller check (made by a worker of replica one) is throttled for a second
    await sim.sim("POST", "/faults", {"method": "GET", "path": "^/v1/profiles/mpn$", "status": 429,
                                      "retryAfter": 1, "times": 1}, status=201)  # fmt: skip
    [first] = await submit_purchases(one, 1)
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    [second] = await submit_purchases(two, 1)
    assert (await two.wait(second))["status"] == "succeeded"
    assert time.perf_counter() - started > 0.6  # the other replica sat out the pause too
    assert (await one.wait(first))["status"] == "succeeded"
    assert (await upstream_statuses(sim)).count(429) == 1
