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


def local(limit: int, clock: FakeClock, window: float = 60.0) -> LocalThrottle:
    return LocalThrottle(limit, window, clock=clock, sleep=clock.sleep)


P, Q = "partner:p", "partner:q"


async def test_the_limiter_admits_the_limit_then_holds_the_next_call_until_a_slot_frees() -> None:
    clock = FakeClock()
    throttle = local(3, clock)
    for _ in range(3):
        await throttle.acquire([P])
        clock.now += 1
    assert clock.slept == []
    await throttle.acquire([P])
    # the first call was at 1000; its slot frees at 1060, and the clock stood at 1003
    assert clock.slept == [57.0]
    assert clock.now == 1060.0


async def test_calls_older_than_the_window_no_longer_count() -> None:
    clock = FakeClock()
    throttle = local(2, clock)
    await throttle.acquire([P])
    await throttle.acquire([P])
    clock.now += 60.0
    await throttle.acquire([P])
    await throttle.acquire([P])
    assert clock.slept == []


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


async def test_each_key_has_its_own_budget_and_a_call_spends_every_key_it_names() -> None:
    clock = FakeClock()
    throttle = local(2, clock)
    pair_1, pair_2 = "partner:p:customer:1", "partner:p:customer:2"
    await throttle.acquire([P, pair_1])
    await throttle.acquire([P, pair_1])
    await throttle.acquire([Q, "partner:q:customer:1"])  # another partner: untouched budget
    await throttle.acquire([Q])
    assert clock.slept == []
    # another customer of the same partner: its pair is fresh, but the partner's budget is spent
    with pytest.raises(Throttled):
        await throttle.acquire([P, pair_2], max_wait=1)
    with pytest.raises(Throttled):
        await throttle.acquire([Q], max_wait=1)


async def test_a_customer_pair_out_of_budget_does_not_hold_the_partners_other_calls() -> None:
    clock = FakeClock()
    throttle = local(2, clock)
    pair_1 = "partner:p:customer:1"
    await throttle.acquire([P, pair_1])
    clock.now += 59.0
    await throttle.acquire([P, pair_1])
    clock.now += 2.0  # the first call left the window: the partner has a slot again ...
    await throttle.acquire([P])
    with pytest.raises(Throttled):  # ... which the pair, with its own two calls, does not have
        await throttle.acquire([P, pair_1], max_wait=1)
    assert clock.slept == []


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

    def make(limit: int, window: float = 60.0) -> Any:
        made.append(module.RedisThrottle(redis_url, limit, window, prefix=prefix))
        return made[-1]

    yield [make]
    for throttle in made:
        await throttle.close()


async def test_two_replicas_spend_one_budget_in_redis(replicas: list[Any]) -> None:
    [make] = replicas
    a, b = make(3), make(3)
    await a.acquire([P])
    await b.acquire([P])
    await a.acquire([P])
    with pytest.raises(Throttled) as refused:
        await b.acquire([P], max_wait=1)
    assert 58 < refused.value.seconds <= 60
    await b.acquire([Q], max_wait=0)  # another partner's budget is its own


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

SIM_LIMIT = 30
GATEWAY_LIMIT = 20
#: A budget further away than this reschedules the step instead of holding a worker on it.
SHORT_WAIT = {"pc_max_retry_after_seconds": 0.5}


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


async def test_the_gateway_stays_under_its_limit_so_partner_center_never_throttles_it(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    await sim.sim("PUT", "/config", {"rateLimitPerMinute": SIM_LIMIT})
    gw = await make_gateway(pc_rate_limit_per_minute=GATEWAY_LIMIT, **SHORT_WAIT)
    first = (await submit_purchases(gw, 1))[0]
    assert (await gw.wait(first))["status"] == "succeeded"  # one purchase fits in the budget
    ids = await submit_purchases(gw, 3)  # three more do not, this minute
    statuses = await settle(sim, 0.5)
    assert statuses.count(429) == 0
    # the sign-in is not a /v1 call; every call the simulator saw was inside the budget
    assert len(statuses) == GATEWAY_LIMIT
    ops = [await gw.operation(op_id) for op_id in ids]
    assert {op["status"] for op in ops} <= {"accepted", "running"}  # waiting, not failed


async def test_without_its_limit_the_same_load_runs_into_partner_centers_429(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    await sim.sim("PUT", "/config", {"rateLimitPerMinute": SIM_LIMIT})
    # no own budget, and a long Retry-After reschedules the step instead of sleeping on it
    gw = await make_gateway(pc_rate_limit_per_minute=0, pc_max_retry_after_seconds=0.1)
    await submit_purchases(gw, 4)
    statuses = await settle(sim, 0.5)
    assert statuses.count(429) >= 1


async def test_replicas_on_redis_share_one_budget_against_partner_center(
    make_gateway: MakeGateway, sim: PartnerClient, redis_url: str, tmp_path: Path
) -> None:
    await sim.sim("PUT", "/config", {"rateLimitPerMinute": SIM_LIMIT})
    shared = {"pc_rate_limit_per_minute": GATEWAY_LIMIT, "redis_url": redis_url, **SHORT_WAIT}
    one = await make_gateway(database_url=f"sqlite:///{tmp_path / 'a.db'}", **shared)
    two = await make_gateway(database_url=f"sqlite:///{tmp_path / 'b.db'}", **shared)
    # a fresh gateway reads the catalog (4 calls) as it accepts its first order: one each first,
    # so neither of those reads comes after the workers have spent the budget
    for gw in (one, two, one, two):
        await submit_purchases(gw, 1)
    statuses = await settle(sim, 0.5)
    assert statuses.count(429) == 0
    assert len(statuses) == GATEWAY_LIMIT  # together, not each


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
