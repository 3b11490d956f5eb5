"""Partner Center misbehaving (429, 5xx, dropped connections, slowness, timeouts) under purchases
through the gateway: every purchase still completes, nothing is created twice, and every retry
of a write carries the write's one ``MS-RequestId``.

Faults come from the simulator's ``/_sim/faults``; what Partner Center ended up holding comes from
``/_sim/state``; what went over the wire comes from ``/_sim/requests``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from adapters.storage import SqlJournal
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import BASIC, PartnerClient

#: Retries as the production policy makes them, minus the waiting (Retry-After is still honoured).
FAST: dict[str, Any] = {"pc_retry_backoff_seconds": 0.01, "pc_retry_jitter_seconds": 0.0}


async def add_fault(sim: PartnerClient, **spec: Any) -> str:
    return str((await sim.sim("POST", "/faults", spec, status=201))["id"])


async def wire_log(sim: PartnerClient) -> list[dict[str, Any]]:
    """Every ``/v1`` call the simulator answered, oldest first."""
    items = (await sim.sim("GET", "/requests?limit=10000"))["items"]
    return [r for r in reversed(items) if r["path"].startswith("/v1/")]


def posts_by_request_id(log: list[dict[str, Any]], suffix: str) -> dict[str, list[int]]:
    """Statuses of the POSTs whose path ends with ``suffix``, grouped by ``MS-RequestId``."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for record in log:
        if record["method"] == "POST" and record["path"].endswith(suffix):
            grouped[record["msRequestId"]].append(record["status"])
    return dict(grouped)


def step(op: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in op["steps"] if s["name"] == name]
    assert found, f"no step {name} in {op['steps']}"
    return dict(found[0])


async def assert_exactly_once(sim: PartnerClient, ops: list[dict[str, Any]]) -> None:
    """Per purchase: one customer, one cart, one order, and one 5-seat subscription of the
    ordered offer; nothing else anywhere."""
    state = await sim.sim("GET", "/state")
    customers = {op["result"]["customerId"] for op in ops}
    assert len(customers) == len(ops)
    assert sorted(c["tenantId"] for c in state["customers"]) == sorted(customers)
    for kind in ("carts", "orders", "subscriptions"):
        per_customer = sorted(item["customerId"] for item in state[kind])
        assert per_customer == sorted(customers), (kind, state[kind])
    for op in ops:
        [sub_id] = op["result"]["subscriptionIds"]
        [sub] = [s for s in state["subscriptions"] if s["id"] == sub_id]
        assert (sub["customerId"], sub["quantity"], sub["catalogItemId"]) == (
            op["result"]["customerId"], 5, BASIC,
        )  # fmt: skip


async def test_injected_429s_5xx_resets_and_latency_are_absorbed_without_duplicates(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST)
    await add_fault(sim, method="POST", path="/carts$", status=429, retryAfter=1, times=2)
    await add_fault(sim, method="POST", path="^/v1/customers$", status=503, times=2)
    await add_fault(sim, method="POST", path="/checkout$", status=500, times=1)
    await add_fault(sim, method="POST", path="^/v1/customers/.*/agreements$", reset=True, times=1)
    await add_fault(sim, method="GET", path="^/v1/", latencyMs=150, times=4)
    accepted = [
        await gw.submit("/v1/orders", purchase_order(prefix)) for prefix in ("contoso", "fabrikam")
    ]
    ops = [await gw.wait(a["id"]) for a in accepted]
    assert [op["status"] for op in ops] == ["succeeded", "succeeded"], ops
    await assert_exactly_once(sim, ops)
    faults = (await sim.sim("GET", "/faults"))["items"]
    assert [f["fired"] for f in faults] == [2, 2, 1, 1, 4]  # every fault really hit the gateway
    log = await wire_log(sim)
    for suffix, name in (("/customers", "create_customer"), ("/agreements", "accept_mca"),
                         ("/carts", "create_cart"), ("/checkout", "checkout")):  # fmt: skip
        by_id = posts_by_request_id(log, suffix)
        # one MS-RequestId per purchase's write, the step's own, on every attempt of it
        assert sorted(by_id) == sorted(step(op, name)["msRequestId"] for op in ops), suffix
        assert all(statuses[-1] == 201 for statuses in by_id.values()), (suffix, by_id)
        assert all(step(op, name)["attempts"] == 1 for op in ops)  # absorbed inside the call
    assert sum(len(s) for s in posts_by_request_id(log, "/carts").values()) == 4  # 2 x 429


async def test_a_429_is_retried_after_its_retry_after(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST)
    await add_fault(sim, method="POST", path="/carts$", status=429, retryAfter=1, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    assert loop.time() - started >= 1.0
    cart = step(op, "create_cart")
    assert cart["attempts"] == 1  # slept inside the adapter, not rescheduled
    assert posts_by_request_id(await wire_log(sim), "/carts") == {cart["msRequestId"]: [429, 201]}


async def test_a_retry_after_above_the_cap_reschedules_the_step_and_then_succeeds(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST, pc_max_retry_after_seconds=0.5)
    # 3 s: above the adapter's cap, and above the workflow's first back-off (2 s)
    await add_fault(sim, method="POST", path="/carts$", status=429, retryAfter=3, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    accepted = await gw.submit("/v1/orders", purchase_order())
    waiting = await _until_step(gw, accepted["id"], "create_cart", "waiting")
    assert waiting["status"] == "running"
    op = await gw.wait(accepted["id"])
    assert op["status"] == "succeeded", op
    assert loop.time() - started >= 3.0  # the step waited Retry-After, not the shorter back-off
    cart = step(op, "create_cart")
    assert cart["attempts"] == 2  # the adapter gave up at once; the workflow ran the step again
    assert posts_by_request_id(await wire_log(sim), "/carts") == {cart["msRequestId"]: [429, 201]}
    await assert_exactly_once(sim, [op])


async def _until_step(gw: Gateway, op_id: str, name: str, status: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while True:
        op = await gw.operation(op_id)
        if any(s["name"] == name and s["status"] == status for s in op["steps"]):
            return op
        assert op["status"] not in ("succeeded", "failed"), op
        assert loop.time() < deadline, f"step {name} never {status}: {op}"
        await asyncio.sleep(0.02)


async def test_partner_center_down_fails_the_operation_as_unavailable_after_the_set_attempts(
    make_gateway: MakeGateway, sim: PartnerClient, tmp_path: Path
) -> None:
    gw = await make_gateway(max_unavailable_attempts=2, pc_retry_attempts=3, **FAST)
    await add_fault(sim, method="POST", path="^/v1/customers$", status=503)
    accepted = await gw.submit("/v1/orders", purchase_order())
    waiting = await _until_step(gw, accepted["id"], "create_customer", "waiting")
    assert waiting["status"] == "running"  # backing off, not failed on the first outage
    op = await gw.wait(accepted["id"])
    assert op["status"] == "failed", op
    failed = step(op, "create_customer")
    assert (failed["status"], failed["attempts"]) == ("failed", 2)
    error = op["error"]
    assert "unavailable" in error["message"]
    assert "2 tries" in error["message"]
    assert error["reason"] == "unavailable"
    assert (error["step"], error["partnerCenterStatus"]) == ("create_customer", 503)
    assert posts_by_request_id(await wire_log(sim), "/customers") == {
        failed["msRequestId"]: [503] * 6  # 2 attempts x 3 tries, one MS-RequestId throughout
    }
    assert (await sim.sim("GET", "/state"))["customers"] == []
    journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")  # the gateway's own file
    try:
        journaled = await journal.get(op["id"])
    finally:
        await journal.close()
    assert journaled is not None
    assert journaled.error is not None
    assert journaled.error["reason"] == "unavailable"  # the API does not show reasons (yet)


async def test_a_checkout_applied_after_the_gateway_timed_out_is_replayed_not_repeated(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    """The hard case: Partner Center applies the checkout after the gateway gave up waiting.
    The retry (same ``MS-RequestId``) arrives after the first attempt was applied and gets the
    stored answer: the same order, not a second one."""
    # retry once the slow call is done
    gw = await make_gateway(
        pc_timeout=0.3, pc_retry_backoff_seconds=0.5, pc_retry_jitter_seconds=0.0
    )
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=500, times=1)
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    await assert_exactly_once(sim, [op])
    checkout = step(op, "checkout")
    assert checkout["attempts"] == 1
    # the timed-out attempt was applied (201), the retry got the stored answer (201)
    assert posts_by_request_id(await wire_log(sim), "/checkout") == {
        checkout["msRequestId"]: [201, 201]
    }
    assert op["result"]["orderIds"] == [o["id"] for o in (await sim.sim("GET", "/state"))["orders"]]


async def test_a_retry_overtaking_a_slow_checkout_still_makes_one_order(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    """The retry arrives while the timed-out attempt is still held up: the retry is applied,
    and the late original is then answered from the stored answer."""
    gw = await make_gateway(pc_timeout=0.3, **FAST)
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=600, times=1)
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    await asyncio.sleep(0.5)  # let the held-up original finish inside the simulator
    await assert_exactly_once(sim, [op])
    checkout = step(op, "checkout")
    # the original and at least one retry, every one answered 201 under the one MS-RequestId
    # (a loaded machine may time out a retry too; each is still answered, never applied twice)
    [(request_id, statuses)] = posts_by_request_id(await wire_log(sim), "/checkout").items()
    assert request_id == checkout["msRequestId"]
    assert len(statuses) >= 2
    assert set(statuses) == {201}


async def test_a_step_slower_than_the_lease_is_not_taken_over_by_another_worker(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    """The running worker keeps its lease; without that, the other workers (4 here) claim the
    operation once the lease runs out and send the same checkout again, concurrently."""
    gw = await make_gateway(lease_seconds=0.3)
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=1000, times=1)
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    checkout = step(op, "checkout")
    assert checkout["attempts"] == 1
    assert posts_by_request_id(await wire_log(sim), "/checkout") == {checkout["msRequestId"]: [201]}
    await assert_exactly_once(sim, [op])
