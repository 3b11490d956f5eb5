"""Legacy CSP → NCE moves through the gateway, against the simulator: the NCE subscription is
bought first and the legacy one suspended only after it, so a failed purchase leaves the legacy
subscription untouched and the customer is never left with neither."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.gateway.conftest import Gateway, MakeGateway
from tests.simulator.conftest import BASIC, PROVIDER, PartnerClient

E3_LEGACY = "796B6B5F-613C-4E24-A17C-EBA730D49C02"
PLAN = "Microsoft 365 Business Basic (NCE COM 1YR MTH)"
STEPS = ["read_legacy", "check_reseller", "create_cart", "checkout", "await_provisioning",
         "suspend_legacy"]  # fmt: skip


async def legacy_customer(
    sim: PartnerClient, *, mca: bool = True, quantity: int = 10
) -> tuple[str, str]:
    """An existing tenant served by the provider, holding one active legacy subscription."""
    domain = f"legacy{uuid.uuid4().hex[:8]}.onmicrosoft.com"
    tenant = await sim.sim(
        "POST", "/tenants", {"domain": domain, "companyName": "Legacy Co", "country": "US"}, 201
    )
    tenant_id = tenant["tenantId"]
    await sim.sim("POST", f"/tenants/{tenant_id}/accept-relationship",
                  {"partnerTenantId": PROVIDER["tenant_id"]})  # fmt: skip
    if mca:
        await sim.accept_mca(tenant_id)
    sub = await sim.sim(
        "POST",
        f"/tenants/{tenant_id}/legacy-subscriptions",
        {"partnerTenantId": PROVIDER["tenant_id"], "offerId": E3_LEGACY,
         "offerName": "Office 365 Enterprise E3", "quantity": quantity},
        201,
    )  # fmt: skip
    return tenant_id, sub["id"]


def move_path(customer: str, sub: str) -> str:
    return f"/v1/customers/{customer}/subscriptions/{sub}/move-to-nce"


def move_body(**changes: Any) -> dict[str, Any]:
    return {"planCode": PLAN, "resellerMpnId": "2000002", **changes}


async def subscriptions(sim: PartnerClient, customer: str) -> dict[str, dict[str, Any]]:
    """The customer's subscriptions in Partner Center, by product type."""
    listed = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions")
    out: dict[str, dict[str, Any]] = {}
    for sub in listed["items"]:
        assert sub["productType"]["id"] not in out, listed
        out[sub["productType"]["id"]] = sub
    return out


async def wire(sim: PartnerClient, customer: str) -> list[tuple[str, str]]:
    """``(method, path)`` of the calls made for this customer, oldest first."""
    items = (await sim.sim("GET", "/requests?limit=10000"))["items"]
    return [(r["method"], r["path"]) for r in reversed(items) if customer in r["path"]]


async def writes_since(sim: PartnerClient, customer: str, before: int) -> list[tuple[str, str]]:
    """The non-GET calls for this customer after the first ``before`` calls (the setup's)."""
    return [c for c in (await wire(sim, customer))[before:] if c[0] != "GET"]


def step(op: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(s for s in op["steps"] if s["name"] == name))


async def move(gw: Gateway, customer: str, sub: str, **changes: Any) -> dict[str, Any]:
    accepted = await gw.submit(move_path(customer, sub), move_body(**changes))
    assert (accepted["kind"], accepted["status"]) == ("legacy_move", "accepted")
    return await gw.wait(accepted["id"])


# -- success -------------------------------------------------------------------------------------


async def test_a_move_buys_the_nce_subscription_then_suspends_the_legacy_one(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    op = await move(gw, customer, legacy)
    assert op["status"] == "succeeded", op
    assert [s["name"] for s in op["steps"]] == STEPS
    [nce_id] = op["result"]["subscriptionIds"]
    assert op["result"]["legacySubscriptionId"] == legacy
    assert op["result"]["legacyStatus"] == "suspended"
    held = await subscriptions(sim, customer)
    nce = held["OnlineServicesNCE"]
    assert (nce["id"], nce["status"], nce["partnerId"]) == (nce_id, "active", "2000002")
    assert (nce["offerId"], nce["quantity"], nce["termDuration"]) == (BASIC, 10, "P1Y")
    assert (held["OnlineServices"]["id"], held["OnlineServices"]["status"]) == (legacy, "suspended")
    calls = await wire(sim, customer)
    checkout = next(i for i, c in enumerate(calls) if c[1].endswith("/checkout"))
    suspend = calls.index(("PATCH", f"/v1/customers/{customer}/subscriptions/{legacy}"))
    assert checkout < suspend  # bought first, ended after


async def test_a_move_by_catalog_item_with_a_quantity_buys_that_many_seats(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    body = {"catalogItemId": BASIC, "termDuration": "P1M", "billingCycle": "monthly",
            "quantity": 7, "resellerMpnId": "2000002"}  # fmt: skip
    op = await gw.wait((await gw.submit(move_path(customer, legacy), body))["id"])
    assert op["status"] == "succeeded", op
    nce = (await subscriptions(sim, customer))["OnlineServicesNCE"]
    assert (nce["quantity"], nce["termDuration"], nce["billingCycle"]) == (7, "P1M", "monthly")


# -- refused before any operation ----------------------------------------------------------------


async def test_bad_move_requests_are_400_naming_the_field_and_leave_no_operation(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    before = len(await wire(sim, customer))
    path = move_path(customer, legacy)
    cases = [
        (move_body(planCode="Microsoft 365 Nonesuch (NCE COM 1YR MTH)"), "planCode"),
        (move_body(planCode="Business Basic yearly"), "planCode"),
        (move_body(catalogItemId=BASIC), "body"),
        ({"catalogItemId": BASIC, "billingCycle": "monthly", "resellerMpnId": "2000002"}, "body"),
        (move_body(planCode="Microsoft 365 Business Basic (NCE COM 1YR MTH)", quantity=301),
         "quantity"),
        (move_body(resellerMpnId="MPN-1"), "resellerMpnId"),
        ({"planCode": PLAN}, "resellerMpnId"),
        (move_body(quantity="5"), "quantity"),
    ]  # fmt: skip
    for body, field in cases:
        resp = await gw.post(path, body)
        problem = await resp.json()
        assert resp.status == 400, (body, problem)
        assert problem["field"] == field, (body, problem)
        assert "lines[0]" not in problem["message"], problem
    listed = await (await gw.http.get("/v1/operations")).json()
    assert listed["items"] == []
    assert await writes_since(sim, customer, before) == []
    assert (await subscriptions(sim, customer))["OnlineServices"]["status"] == "active"


async def test_a_move_without_an_idempotency_key_is_refused(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    resp = await gw.http.post(move_path(customer, legacy), json=move_body())
    assert resp.status == 400
    assert (await resp.json())["field"] == "Idempotency-Key"


# -- the purchase fails: the legacy subscription is untouched ------------------------------------


async def test_a_purchase_refusal_fails_the_move_and_leaves_the_legacy_subscription_active(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim, mca=False)
    await gw.assign(customer)  # a customer from before the gateway
    op = await move(gw, customer, legacy)
    assert op["status"] == "failed", op
    assert op["error"]["step"] == "checkout"
    assert (op["error"]["partnerCenterStatus"], op["error"]["partnerCenterCode"]) == (403, 13605)
    assert "Microsoft Customer Agreement" in op["error"]["message"]
    held = await subscriptions(sim, customer)
    assert list(held) == ["OnlineServices"]
    assert held["OnlineServices"]["status"] == "active"
    assert not [c for c in await wire(sim, customer) if c[0] == "PATCH"]


async def test_an_unknown_reseller_fails_the_move_before_anything_is_bought(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    before = len(await wire(sim, customer))
    op = await move(gw, customer, legacy, resellerMpnId="9999999")
    assert op["status"] == "failed", op
    assert op["error"]["step"] == "check_reseller"
    assert "9999999" in op["error"]["message"]
    assert await writes_since(sim, customer, before) == []
    assert (await subscriptions(sim, customer))["OnlineServices"]["status"] == "active"


async def test_legacy_seats_outside_the_nce_offer_fail_the_move_with_the_range(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim, quantity=500)
    await gw.assign(customer)  # a customer from before the gateway
    op = await move(gw, customer, legacy)
    assert op["status"] == "failed", op
    assert op["error"]["reason"] == "legacy_seats_out_of_range"
    assert "500 seats" in op["error"]["message"]
    assert "1-300" in op["error"]["message"]
    assert list(await subscriptions(sim, customer)) == ["OnlineServices"]


# -- what cannot be moved ------------------------------------------------------------------------


async def test_moving_an_nce_subscription_fails_with_a_sentence(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, _ = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    bought = await sim.buy(customer)
    nce_id = bought["orders"][0]["lineItems"][0]["subscriptionId"]
    op = await move(gw, customer, nce_id)
    assert op["status"] == "failed", op
    assert op["error"]["reason"] == "legacy_not_legacy"
    assert "already a new-commerce (NCE) subscription" in op["error"]["message"]
    listed = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions")
    assert sorted(s["status"] for s in listed["items"]) == ["active", "active"]


async def test_moving_a_suspended_legacy_subscription_fails_with_a_sentence(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    path = f"/v1/customers/{customer}/subscriptions/{legacy}"
    current = await sim.ok("GET", path)
    await sim.ok("PATCH", path, {**current, "status": "suspended"})
    op = await move(gw, customer, legacy)
    assert op["status"] == "failed", op
    assert op["error"]["reason"] == "legacy_not_active"
    assert "is suspended, not active" in op["error"]["message"]
    assert list(await subscriptions(sim, customer)) == ["OnlineServices"]


async def test_moving_an_unknown_subscription_fails_with_a_sentence(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, _ = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    missing = "00000000-0000-4000-8000-000000000000"
    op = await move(gw, customer, missing)
    assert op["status"] == "failed", op
    assert op["error"]["reason"] == "legacy_not_found"
    assert missing in op["error"]["message"]


# -- the suspend after the purchase is retried until it lands ------------------------------------


async def test_a_failing_legacy_suspend_is_retried_until_it_succeeds(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    # Each 503 reaches the step (no in-call retries) and there are more of them than any other
    # step would tolerate: the suspend must never give up once the NCE subscription exists.
    gw = await make_gateway(pc_retry_attempts=1, max_unavailable_attempts=2)
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    await sim.sim("POST", "/faults", {"method": "PATCH", "path": f"/subscriptions/{legacy}$",
                                      "status": 503, "times": 4}, 201)  # fmt: skip
    op = await move(gw, customer, legacy)
    assert op["status"] == "succeeded", op
    assert step(op, "suspend_legacy")["attempts"] == 5
    held = await subscriptions(sim, customer)
    assert held["OnlineServicesNCE"]["status"] == "active"
    assert held["OnlineServices"]["status"] == "suspended"
    patches = [c for c in await wire(sim, customer) if c[0] == "PATCH"]
    assert len(patches) == 5  # four refused, one accepted


async def test_a_legacy_suspend_shows_the_operation_running_while_it_retries(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(pc_retry_attempts=1, unavailable_backoff_seconds=0.3)
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    await sim.sim("POST", "/faults", {"method": "PATCH", "path": f"/subscriptions/{legacy}$",
                                      "status": 503, "times": 2}, 201)  # fmt: skip
    accepted = await gw.submit(move_path(customer, legacy), move_body())
    for _ in range(500):
        op = await gw.operation(accepted["id"])
        if step_named(op, "suspend_legacy"):
            break
        await asyncio.sleep(0.01)
    assert op["status"] == "running", op
    held = await subscriptions(sim, customer)
    assert held["OnlineServicesNCE"]["status"] == "active"  # both, briefly; never neither
    assert held["OnlineServices"]["status"] == "active"
    done = await gw.wait(accepted["id"])
    assert done["status"] == "succeeded", done
    assert (await subscriptions(sim, customer))["OnlineServices"]["status"] == "suspended"


def step_named(op: dict[str, Any], name: str) -> bool:
    return any(s["name"] == name for s in op["steps"])


# -- idempotency ---------------------------------------------------------------------------------


async def test_an_idempotency_key_replay_finds_the_same_move_and_buys_once(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    first = await gw.submit(move_path(customer, legacy), move_body(), key="move-1")
    again = await gw.submit(move_path(customer, legacy), move_body(), key="move-1")
    assert again["id"] == first["id"]
    done = await gw.wait(first["id"])
    assert done["status"] == "succeeded", done
    after = await gw.submit(move_path(customer, legacy), move_body(), key="move-1")
    assert (after["id"], after["status"]) == (first["id"], "succeeded")
    listed = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions")
    kinds = sorted(s["productType"]["id"] for s in listed["items"])
    assert kinds == ["OnlineServices", "OnlineServicesNCE"]
    reused = await gw.post(move_path(customer, legacy), move_body(quantity=3), key="move-1")
    assert reused.status == 422


async def test_a_legacy_suspend_refused_for_good_fails_saying_the_nce_subscription_exists(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    await sim.sim("POST", "/faults", {"method": "PATCH", "path": f"/subscriptions/{legacy}$",
                                      "status": 400, "code": 800040, "times": 1}, 201)  # fmt: skip
    op = await move(gw, customer, legacy)
    assert op["status"] == "failed", op
    assert (op["error"]["step"], op["error"]["reason"]) == (
        "suspend_legacy",
        "legacy_suspend_refused",
    )
    [nce_id] = op["result"]["subscriptionIds"]
    assert nce_id in op["error"]["message"]
    assert "suspend the legacy subscription by hand" in op["error"]["message"]
    held = await subscriptions(sim, customer)
    assert (held["OnlineServicesNCE"]["status"], held["OnlineServices"]["status"]) == (
        "active", "active"
    )  # fmt: skip


# -- the gateway's other subscription changes on a legacy subscription (not this module's) -------


async def test_legacy_seats_can_be_reduced_through_the_gateway(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    path = f"/v1/customers/{customer}/subscriptions/{legacy}/seats"
    op = await gw.wait((await gw.submit(path, {"quantity": 4}))["id"])
    assert op["status"] == "succeeded", op
    held = await subscriptions(sim, customer)
    assert held["OnlineServices"]["quantity"] == 4


async def test_cancelling_a_legacy_subscription_says_to_suspend_or_move_it(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy = await legacy_customer(sim)
    await gw.assign(customer)  # a customer from before the gateway
    path = f"/v1/customers/{customer}/subscriptions/{legacy}/cancel"
    op = await gw.wait((await gw.submit(path, {"reason": "Other"}))["id"])
    assert op["status"] == "failed", op
    assert "suspend" in op["error"]["message"], op["error"]
    assert (await subscriptions(sim, customer))["OnlineServices"]["status"] == "active"
