"""The fault matrix: a mix of marketplace operations (new-tenant purchases, then seat changes,
cancels inside the window, suspend and resume) run concurrently against one gateway while
Partner Center misbehaves by seeded rule — 429 with ``Retry-After``, 500/503, latency,
connections dropped before and after the change was applied, 409 renewal conflicts — and then
every invariant of :mod:`tests.reliability.invariants` holds.

Then one case per fault kind, each with the assertion only that kind allows: what went over the
wire under the step's one ``MS-RequestId``, and what Partner Center holds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.gateway.conftest import MakeGateway
from tests.reliability.harness import FAST, Run, step
from tests.reliability.workload import (
    CREATES,
    RENEWAL_IN_PROGRESS,
    SUBSCRIPTION,
    SimControl,
    fault_rules,
    fired,
    plan_chains,
    purchase,
)
from tests.simulator.conftest import BASIC

# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 22, 33])
async def test_a_mix_under_seeded_faults_keeps_every_promise(seed: int, run: Run) -> None:
    for rule in fault_rules(seed):
        await run.control.add_fault(**rule)
    chains = plan_chains(random.Random(seed), 14)
    await run.driver.run(chains, concurrency=14)
    assert await run.violations() == []
    assert len(run.driver.tally.submitted) == sum(len(c) for c in chains)  # nothing cut short
    kinds = await fired(run.control)
    # every seed meets the hard cases: drops before and after Partner Center applied the call
    assert kinds["reset (before applied)"] > 0
    assert kinds["resetAfter (after applied)"] > 0
    assert kinds["500"] + kinds["503"] > 0


# -- one fault kind at a time ----------------------------------------------------------------


async def test_a_checkout_dropped_after_it_was_applied_is_retried_under_its_id_and_replayed(
    run: Run,
) -> None:
    await run.control.add_fault(method="POST", path="/checkout$", resetAfter=True, times=1)
    [op] = await run.driver.chain(["purchase"])
    assert op["status"] == "succeeded", op
    checkout = step(op, "checkout")
    assert checkout["attempts"] == 1  # absorbed by the adapter's retry, not a step re-run
    # served (and applied) but never answered, then the retry, answered from the store
    assert await run.writes("POST", "/checkout") == {checkout["msRequestId"]: [201, 201]}
    state = await run.control.state()
    assert [o["id"] for o in state["orders"]] == op["result"]["orderIds"]
    assert await run.violations() == []


async def test_a_customer_creation_dropped_before_it_was_served_is_sent_again_and_made_once(
    run: Run,
) -> None:
    await run.control.add_fault(method="POST", path="^/v1/customers$", reset=True, times=1)
    [op] = await run.driver.chain(["purchase"])
    assert op["status"] == "succeeded", op
    created = step(op, "create_customer")
    # the dropped call never reached Partner Center's handler: only the retry is logged
    assert await run.writes("POST", "/v1/customers") == {created["msRequestId"]: [201]}
    assert [f["fired"] for f in await run.control.faults()] == [1]
    state = await run.control.state()
    assert [c["tenantId"] for c in state["customers"]] == [op["result"]["customerId"]]
    assert await run.violations() == []


async def test_5xx_on_a_cart_are_retried_under_one_id_and_make_one_cart(run: Run) -> None:
    await run.control.add_fault(method="POST", path="/carts$", status=503, times=1)
    await run.control.add_fault(method="POST", path="/carts$", status=500, times=1)
    [op] = await run.driver.chain(["purchase"])
    assert op["status"] == "succeeded", op
    cart = step(op, "create_cart")
    assert await run.writes("POST", "/carts") == {cart["msRequestId"]: [503, 500, 201]}
    assert len((await run.control.state())["carts"]) == 1
    assert await run.violations() == []


async def test_a_429_on_a_seat_change_is_honoured_and_the_change_applied_once(run: Run) -> None:
    await run.control.add_fault(
        method="PATCH", path=SUBSCRIPTION, status=429, retryAfter=1, times=1
    )
    bought, change = await run.driver.chain(["purchase", "change_seats"])
    assert change["status"] == "succeeded", change
    patch = step(change, "update_subscription")
    assert patch["attempts"] == 1  # slept on Retry-After inside the call
    sub_id = bought["result"]["subscriptionIds"][0]
    assert await run.writes("PATCH", sub_id) == {patch["msRequestId"]: [429, 200]}
    [sub] = (await run.control.state())["subscriptions"]
    assert (sub["quantity"], sub["updates"]) == (change["request"]["quantity"], 1)
    assert await run.violations() == []


async def test_a_seat_change_applied_after_the_gateway_timed_out_counts_once(
    make_gateway: MakeGateway, http: aiohttp.ClientSession, control: SimControl
) -> None:
    """Latency beyond the gateway's timeout: Partner Center applies the PATCH the gateway gave
    up on; the retry sets the same absolute values and changes nothing more."""
    gw = await make_gateway(**{**FAST, "pc_timeout": 0.3, "pc_retry_backoff_seconds": 0.5})
    run = Run(http, control, str(gw.http.make_url("")).rstrip("/"), seed=8)
    await control.add_fault(method="PATCH", path=SUBSCRIPTION, latencyMs=600, times=1)
    bought, change = await run.driver.chain(["purchase", "change_seats"])
    assert change["status"] == "succeeded", change
    patch = step(change, "update_subscription")
    sub_id = bought["result"]["subscriptionIds"][0]
    assert await run.writes("PATCH", sub_id) == {patch["msRequestId"]: [200, 200]}
    [sub] = (await control.state())["subscriptions"]
    assert (sub["quantity"], sub["updates"]) == (change["request"]["quantity"], 1)
    assert await run.violations() == []


async def test_a_cancel_whose_answer_was_lost_is_reported_done_not_already_deleted(
    run: Run,
) -> None:
    """The retry of a cancel that landed meets a deleted subscription (400 / 2011): the gateway
    reads it back, finds its own change made, and reports the cancel as done."""
    await run.control.add_fault(method="PATCH", path=SUBSCRIPTION, resetAfter=True, times=1)
    bought, cancel = await run.driver.chain(["purchase", "cancel"])
    assert cancel["status"] == "succeeded", cancel
    assert cancel["result"]["status"] == "deleted"
    patch = step(cancel, "update_subscription")
    sub_id = bought["result"]["subscriptionIds"][0]
    assert await run.writes("PATCH", sub_id) == {patch["msRequestId"]: [200, 400]}
    [sub] = (await run.control.state())["subscriptions"]
    assert (sub["status"], sub["updates"]) == ("deleted", 1)
    assert await run.violations() == []


async def test_injected_renewal_409s_wait_and_the_change_lands_once(run: Run) -> None:
    await run.control.add_fault(method="PATCH", path=SUBSCRIPTION, status=409,
                                code=RENEWAL_IN_PROGRESS, times=2)  # fmt: skip
    bought, change = await run.driver.chain(["purchase", "change_seats"])
    assert change["status"] == "succeeded", change
    patch = step(change, "update_subscription")
    assert patch["attempts"] == 3  # each 409 rescheduled the step (Microsoft asks for a wait)
    sub_id = bought["result"]["subscriptionIds"][0]
    assert await run.writes("PATCH", sub_id) == {patch["msRequestId"]: [409, 409, 200]}
    [sub] = (await run.control.state())["subscriptions"]
    assert (sub["quantity"], sub["updates"]) == (change["request"]["quantity"], 1)
    assert await run.violations() == []


async def test_a_seat_change_during_a_real_renewal_waits_it_out_and_lands_once(run: Run) -> None:
    """No injected fault: the simulator's own renewal (a P1M term ends, the renewal runs six
    hours) answers 409 / 800082 until the clock moves past it."""
    monthly = {**purchase("renewing"), "lines": [
        {"catalogItemId": BASIC, "termDuration": "P1M", "billingCycle": "monthly", "quantity": 5}
    ]}  # fmt: skip
    [bought] = await run.driver.chain(["purchase"], monthly)
    assert bought["status"] == "succeeded", bought
    customer, [sub_id] = bought["result"]["customerId"], bought["result"]["subscriptionIds"]
    await run.control.control("POST", "/clock/advance", {"to": "2026-02-05T01:00:00Z"})
    op_id = await run.driver.submit(
        f"/v1/customers/{customer}/subscriptions/{sub_id}/seats", {"quantity": 8}
    )
    conflicts = await _until(run, sub_id, lambda statuses: statuses.count(409) >= 2)
    assert set(conflicts) == {409}
    await run.control.control("POST", "/clock/advance", {"to": "2026-02-05T07:00:00Z"})
    change = await run.driver.settle(op_id)
    assert change["status"] == "succeeded", change
    patch = step(change, "update_subscription")
    [(request_id, statuses)] = (await run.writes("PATCH", sub_id)).items()
    assert request_id == patch["msRequestId"]
    assert statuses[-1] == 200
    assert set(statuses[:-1]) == {409}
    [sub] = (await run.control.state())["subscriptions"]
    assert (sub["quantity"], sub["updates"]) == (8, 1)
    assert await run.violations() == []


async def _until(run: Run, sub_id: str, done: Callable[[list[int]], bool]) -> list[int]:
    """The PATCH statuses on ``sub_id`` once ``done`` holds for them (at most 10 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while True:
        statuses = [s for group in (await run.writes("PATCH", sub_id)).values() for s in group]
        if done(statuses):
            return statuses
        assert loop.time() < deadline, f"PATCH statuses so far: {statuses}"
        await asyncio.sleep(0.05)


async def test_every_create_fault_kind_on_every_create_path_still_buys_once(run: Run) -> None:
    """Each create path meets each kind once, in turn, for the same purchases."""
    for spec in ({"status": 429, "retryAfter": 1}, {"status": 503}, {"status": 500},
                 {"reset": True}, {"resetAfter": True}):  # fmt: skip
        await run.control.add_fault(method="POST", path=CREATES, times=4, **spec)
    ops = [op for chain in await _concurrently(run, [["purchase"]] * 4) for op in chain]
    assert [op["status"] for op in ops] == ["succeeded"] * 4, ops
    assert [f["fired"] for f in await run.control.faults()] == [4] * 5
    assert await run.violations() == []


async def _concurrently(run: Run, chains: list[list[str]]) -> list[list[dict[str, Any]]]:
    return list(await asyncio.gather(*(run.driver.chain(kinds) for kinds in chains)))
