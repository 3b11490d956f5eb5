"""Terms, trials and bases through the gateway: a three-year purchase by plan code, a billing
cycle longer than its term refused before anything is journaled, a trial that converts itself at
its renewal when the simulator's clock gets there, and a base whose suspension takes its add-on
with it."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PartnerClient

TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"
E3 = "CFQ7TTC0LFLX:0001:CFQ7TTC0K8P5"
COPILOT = "CFQ7TTC0MM8R:0002:CFQ7TTC0MM9A"


async def buy(gw: Gateway, prefix: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order(prefix, lines=lines)))["id"])
    assert op["status"] == "succeeded", op
    return op


async def read(gw: Gateway, customer: str, sub_id: str) -> dict[str, Any]:
    resp = await gw.http.get(f"/v1/customers/{customer}/subscriptions/{sub_id}")
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_a_three_year_term_paid_triennially_is_bought_by_plan_code(gw: Gateway) -> None:
    op = await buy(
        gw, "threeyear", [{"planCode": "Microsoft 365 E3 (NCE COM 3YR TRI)", "quantity": 10}]
    )
    customer, [sub_id] = op["result"]["customerId"], op["result"]["subscriptionIds"]
    sub = await read(gw, customer, sub_id)
    assert (sub["termDuration"], sub["billingCycle"]) == ("P3Y", "triennial")
    assert sub["commitmentEndDate"] == "2029-01-04T00:00:00Z"


async def test_a_billing_cycle_longer_than_its_term_is_refused_before_any_operation(
    gw: Gateway,
) -> None:
    lines = [{"catalogItemId": E3, "termDuration": "P1M", "billingCycle": "annual", "quantity": 1}]
    resp = await gw.post("/v1/orders", purchase_order("toolong", lines=lines))
    body = await resp.json()
    assert (resp.status, body["field"]) == (400, "lines[0].termDuration")
    assert "not sold as P1M/annual" in body["message"]
    listed = await (await gw.http.get("/v1/operations")).json()
    assert listed["items"] == []


async def test_a_trial_converts_itself_to_a_year_billed_monthly_at_its_renewal(
    gw: Gateway, sim: PartnerClient
) -> None:
    lines = [
        {"catalogItemId": TRIAL, "termDuration": "P1M", "billingCycle": "none", "quantity": 25}
    ]
    op = await buy(gw, "trialco", lines)
    customer, [sub_id] = op["result"]["customerId"], op["result"]["subscriptionIds"]
    before = await read(gw, customer, sub_id)
    assert (before["termDuration"], before["billingCycle"]) == ("P1M", "none")
    events = await sim.advance("P32D")
    assert "trialConverted" in [e["type"] for e in events]
    after = await read(gw, customer, sub_id)
    assert (after["id"], after["termDuration"], after["billingCycle"]) == (sub_id, "P1Y", "monthly")
    assert after["offerId"].startswith("CFQ7TTC0LH18:0001")
    assert after["canCancel"] is True  # a new 168-hour window from the conversion


async def test_suspending_a_base_through_the_gateway_suspends_its_add_on(
    gw: Gateway,
) -> None:
    lines = [
        {"catalogItemId": E3, "termDuration": "P1Y", "billingCycle": "monthly", "quantity": 10},
        {"catalogItemId": COPILOT, "termDuration": "P1Y", "billingCycle": "monthly", "quantity": 4},
    ]
    op = await buy(gw, "baseco", lines)
    customer = op["result"]["customerId"]
    base_id, addon_id = op["result"]["subscriptionIds"]
    path = f"/v1/customers/{customer}/subscriptions/{base_id}/suspend"
    assert (await gw.wait((await gw.submit(path, {}))["id"]))["status"] == "succeeded"
    assert (await read(gw, customer, addon_id))["status"] == "suspended"
