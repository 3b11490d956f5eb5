"""Add-ons and unique offer constraints through the gateway, end to end against the simulator:
Copilot seats within the base seats (counting the same order), Multi-Geo at least 5 % of them,
add-on term ends aligned to the base, the SMB suites' 300 seats per customer, one trial per
customer, and the per-tenant subscription cap (403 / 800066)."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PartnerClient

E3 = "Microsoft 365 E3 (NCE COM 1YR MTH)"
BASIC = "Microsoft 365 Business Basic (NCE COM 1YR MTH)"
COPILOT = "Microsoft 365 Copilot (NCE COM 1YR MTH)"
MULTI_GEO = "Multi-Geo Capabilities in Office 365 (NCE COM 1YR MTH)"
TRIAL = {"catalogItemId": "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1", "termDuration": "P1M",
         "billingCycle": "none", "quantity": 25}  # fmt: skip
DOMAIN = "contoso.onmicrosoft.com"


def plan(code: str, quantity: int) -> dict[str, Any]:
    return {"planCode": code, "quantity": quantity}


async def order(gw: Gateway, lines: list[dict[str, Any]], existing: bool = False) -> dict[str, Any]:
    """Submit a purchase (for the new tenant ``contoso``, or it again once it exists) and wait
    for it to finish."""
    changes: dict[str, Any] = {"lines": lines}
    if existing:
        changes["customer"] = {"existingTenant": {"domain": DOMAIN}}
    return await gw.wait((await gw.submit("/v1/orders", purchase_order(**changes)))["id"])


async def subscriptions(sim: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    return list((await sim.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"])


def refused_with(op: dict[str, Any], status: int, code: int, words: str) -> None:
    assert op["status"] == "failed", op
    error = op["error"]
    assert (error["partnerCenterStatus"], error["partnerCenterCode"]) == (status, code), error
    assert error["step"] == "checkout"
    assert words in error["message"], error


async def test_copilot_within_the_base_seats_of_the_same_order_is_bought_and_aligned(
    gw: Gateway, sim: PartnerClient
) -> None:
    op = await order(gw, [plan(E3, 10), plan(COPILOT, 10)])
    assert op["status"] == "succeeded", op
    subs = await subscriptions(sim, op["result"]["customerId"])
    assert sorted(s["offerName"] for s in subs) == ["Microsoft 365 Copilot", "Microsoft 365 E3"]
    assert {s["commitmentEndDate"] for s in subs} == {"2027-01-04T00:00:00Z"}


async def test_copilot_above_the_base_seats_fails_with_800002_and_buys_nothing(
    gw: Gateway, sim: PartnerClient
) -> None:
    op = await order(gw, [plan(E3, 10), plan(COPILOT, 11)])
    refused_with(op, 400, 800002, "Microsoft 365 Copilot seats (11)")
    assert await subscriptions(sim, op["result"]["customerId"]) == []


async def test_copilot_added_later_counts_the_base_bought_before_and_ends_with_it(
    gw: Gateway, sim: PartnerClient
) -> None:
    first = await order(gw, [plan(BASIC, 6)])
    assert first["status"] == "succeeded", first
    await sim.advance("P45D")
    too_many = await order(gw, [plan(COPILOT, 7)], existing=True)
    refused_with(too_many, 400, 800002, "eligible base seats (6)")
    op = await order(gw, [plan(COPILOT, 6)], existing=True)
    assert op["status"] == "succeeded", op
    [addon_id] = op["result"]["subscriptionIds"]
    customer_id = op["result"]["customerId"]
    addon = await sim.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{addon_id}")
    assert addon["commitmentEndDate"] == "2027-01-04T00:00:00Z"  # the base's, not 2027-02-18


async def test_multi_geo_below_five_percent_fails_then_enough_seats_succeed(
    gw: Gateway, sim: PartnerClient
) -> None:
    op = await order(gw, [plan(E3, 100), plan(MULTI_GEO, 4)])
    refused_with(op, 400, 800002, "at least 5 seats")
    customer_id = op["result"]["customerId"]
    assert await subscriptions(sim, customer_id) == []
    fixed = await order(gw, [plan(E3, 100), plan(MULTI_GEO, 5)], existing=True)
    assert fixed["status"] == "succeeded", fixed
    assert len(await subscriptions(sim, customer_id)) == 2


async def test_an_smb_suite_past_300_seats_per_customer_fails_with_800002(
    gw: Gateway, sim: PartnerClient
) -> None:
    first = await order(gw, [plan(BASIC, 200)])
    assert first["status"] == "succeeded", first
    second = await order(gw, [plan(BASIC, 101)], existing=True)
    refused_with(second, 400, 800002, "300 seats per customer")
    [only] = await subscriptions(sim, first["result"]["customerId"])
    assert only["quantity"] == 200


async def test_a_second_trial_for_the_customer_fails_with_800002(
    gw: Gateway, sim: PartnerClient
) -> None:
    first = await order(gw, [TRIAL])
    assert first["status"] == "succeeded", first
    second = await order(gw, [TRIAL], existing=True)
    refused_with(second, 400, 800002, "limited to one subscription per customer")
    assert len(await subscriptions(sim, first["result"]["customerId"])) == 1


async def test_a_purchase_past_the_per_tenant_subscription_cap_fails_with_403_800066(
    gw: Gateway, sim: PartnerClient
) -> None:
    await sim.sim("PUT", "/config", {"maxSubscriptionsPerCustomer": 2})
    first = await order(gw, [plan(BASIC, 1), plan(E3, 1)])
    assert first["status"] == "succeeded", first
    second = await order(gw, [plan(E3, 1)], existing=True)
    refused_with(second, 403, 800066, "limit of 2 subscriptions per customer")
    assert len(await subscriptions(sim, first["result"]["customerId"])) == 2
