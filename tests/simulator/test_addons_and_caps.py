"""Add-ons and unique offer constraints: add-on term ends aligned to the base, the SMB suites'
300 seats per customer, offers limited to one subscription per customer, and the per-tenant
subscription cap (``maxSubscriptionsPerCustomer``, 403 / 800066)."""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import BASIC, DIRECT, PartnerClient, line

E3 = "CFQ7TTC0LFLX:0001:CFQ7TTC0K8P5"
PREMIUM = "CFQ7TTC0LCHC:0002:CFQ7TTC0K5C4"
COPILOT = "CFQ7TTC0MM8R:0002:CFQ7TTC0MM9A"
MULTI_GEO = "CFQ7TTC0LHWQ:0001:CFQ7TTC0MG01"
TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"


async def mca_customer(pc: PartnerClient, domain: str = "contoso.onmicrosoft.com") -> str:
    customer = await pc.new_customer(domain)
    await pc.accept_mca(customer["id"])
    return str(customer["id"])


async def subscriptions(pc: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    body = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    return list(body["items"])


async def by_offer(pc: PartnerClient, customer_id: str, offer: str) -> list[dict[str, Any]]:
    return [s for s in await subscriptions(pc, customer_id) if s["offerId"] == offer]


async def checkout_refused(
    pc: PartnerClient, customer_id: str, lines: list[dict[str, Any]], status: int, code: int
) -> dict[str, Any]:
    """The checkout is refused with this status and code; the cart stays Active and the
    customer's subscriptions are what they were."""
    before = await subscriptions(pc, customer_id)
    url = f"/v1/customers/{customer_id}/carts"
    cart = await pc.ok(
        "POST", url, {"lineItems": lines, "partnerOnRecordAttestationAccepted": True}, status=201
    )
    error = await pc.fail("POST", f"{url}/{cart['id']}/checkout", None, status, code)
    assert (await pc.ok("GET", f"{url}/{cart['id']}"))["status"] == "Active"
    assert await subscriptions(pc, customer_id) == before
    return error


# -- add-on dates ------------------------------------------------------------------------------


async def test_an_add_on_bought_mid_term_ends_with_its_base(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(E3, quantity=10)])
    await pc.advance("P40D")
    await pc.buy(customer_id, [line(COPILOT, quantity=4)])
    [base] = await by_offer(pc, customer_id, E3)
    [addon] = await by_offer(pc, customer_id, COPILOT)
    assert base["commitmentEndDate"] == "2027-01-04T00:00:00Z"
    assert addon["commitmentEndDate"] == base["commitmentEndDate"]
    assert addon["commitmentEndDateTime"] == base["commitmentEndDateTime"]


async def test_an_add_on_aligns_to_the_base_that_ends_last(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(BASIC, quantity=5)])
    await pc.advance("P60D")
    await pc.buy(customer_id, [line(E3, quantity=5)])
    await pc.advance("P30D")
    await pc.buy(customer_id, [line(COPILOT, quantity=8)])
    [later] = await by_offer(pc, customer_id, E3)
    [addon] = await by_offer(pc, customer_id, COPILOT)
    assert later["commitmentEndDate"] == "2027-03-05T00:00:00Z"
    assert addon["commitmentEndDate"] == later["commitmentEndDate"]


async def test_an_add_on_bought_with_its_base_in_one_cart_shares_its_end(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    await pc.advance("P3D")
    await pc.buy(customer_id, [line(COPILOT, quantity=2), line(E3, quantity=40),
                               line(MULTI_GEO, quantity=2)])  # fmt: skip
    ends = {s["offerId"]: s["commitmentEndDate"] for s in await subscriptions(pc, customer_id)}
    assert ends == dict.fromkeys((E3, COPILOT, MULTI_GEO), "2027-01-07T00:00:00Z")


async def test_a_monthly_add_on_on_an_annual_base_keeps_its_own_month(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(E3, quantity=10)])
    await pc.buy(customer_id, [line(COPILOT, quantity=2, term="P1M")])
    [addon] = await by_offer(pc, customer_id, COPILOT)
    assert addon["commitmentEndDate"] == "2026-02-04T00:00:00Z"


async def test_an_add_on_ignores_a_suspended_base_when_aligning(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(BASIC, quantity=5)])
    await pc.advance("P20D")
    await pc.buy(customer_id, [line(E3, quantity=5)])
    [e3] = await by_offer(pc, customer_id, E3)
    url = f"/v1/customers/{customer_id}/subscriptions/{e3['id']}"
    await pc.ok("PATCH", url, {"status": "suspended"})
    await pc.buy(customer_id, [line(COPILOT, quantity=5)])
    [addon] = await by_offer(pc, customer_id, COPILOT)
    assert addon["commitmentEndDate"] == "2027-01-04T00:00:00Z"  # Business Basic's end


# -- SMB suites: 300 seats per customer --------------------------------------------------------


async def test_an_smb_suite_is_capped_at_300_seats_per_customer_across_subscriptions(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(PREMIUM, quantity=200)])
    error = await checkout_refused(pc, customer_id, [line(PREMIUM, quantity=101)], 400, 800002)
    assert "Microsoft 365 Business Premium" in error["description"]
    assert "300 seats per customer" in error["description"]
    assert "would make 301" in error["description"]
    result = await pc.buy(customer_id, [line(PREMIUM, quantity=100)])
    assert result["orders"][0]["lineItems"][0]["quantity"] == 100


async def test_the_smb_cap_counts_every_partner_and_lines_in_the_same_cart(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id = await mca_customer(pc)
    await pc.sim("POST", f"/tenants/{customer_id}/accept-relationship",
                 {"partnerTenantId": DIRECT["tenant_id"]})  # fmt: skip
    await direct_pc.accept_mca(customer_id)
    await direct_pc.buy(customer_id, [line(BASIC, quantity=100, reseller=None)])
    await checkout_refused(
        pc, customer_id, [line(BASIC, quantity=100), line(BASIC, quantity=101)], 400, 800002
    )
    await pc.buy(customer_id, [line(BASIC, quantity=100), line(BASIC, quantity=100)])
    # Each suite has its own 300: Business Premium is still free to buy.
    await pc.buy(customer_id, [line(PREMIUM, quantity=300)])


async def test_cancelled_smb_seats_no_longer_count_toward_the_cap(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    result = await pc.buy(customer_id, [line(BASIC, quantity=300)])
    sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    await checkout_refused(pc, customer_id, [line(BASIC, quantity=1)], 400, 800002)
    await pc.ok("PATCH", f"/v1/customers/{customer_id}/subscriptions/{sub_id}",
                {"status": "deleted"})  # fmt: skip
    await pc.buy(customer_id, [line(BASIC, quantity=300)])


# -- one subscription per customer -------------------------------------------------------------


async def test_a_trial_is_limited_to_one_subscription_per_customer(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    trial = line(TRIAL, quantity=25, term="P1M", cycle="none")
    await pc.buy(customer_id, [trial])
    error = await checkout_refused(pc, customer_id, [trial], 400, 800002)
    assert "limited to one subscription per customer" in error["description"]
    assert "Microsoft 365 Business Basic Trial" in error["description"]


async def test_two_trials_in_one_cart_are_refused_whole(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    trial = line(TRIAL, quantity=25, term="P1M", cycle="none")
    await checkout_refused(pc, customer_id, [line(quantity=3), trial, trial], 400, 800002)


async def test_another_customer_may_still_take_the_trial(pc: PartnerClient) -> None:
    trial = line(TRIAL, quantity=25, term="P1M", cycle="none")
    first = await mca_customer(pc)
    second = await mca_customer(pc, "fabrikam.onmicrosoft.com")
    await pc.buy(first, [trial])
    result = await pc.buy(second, [trial])
    assert result["orders"][0]["lineItems"][0]["offerId"] == TRIAL


# -- per-tenant subscription cap ---------------------------------------------------------------


async def test_the_per_tenant_subscription_cap_defaults_to_250_and_is_configurable(
    pc: PartnerClient,
) -> None:
    assert (await pc.sim("GET", "/config"))["maxSubscriptionsPerCustomer"] == 250
    config = await pc.sim("PUT", "/config", {"maxSubscriptionsPerCustomer": 3})
    assert config["maxSubscriptionsPerCustomer"] == 3
    resp = await pc.http.put("/_sim/config", json={"maxSubscriptionsPerCustomer": 0})
    assert resp.status == 400
    assert (await pc.sim("GET", "/config"))["maxSubscriptionsPerCustomer"] == 3


async def test_a_purchase_past_the_per_tenant_cap_is_403_800066(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"maxSubscriptionsPerCustomer": 3})
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=1), line(quantity=1)])
    error = await checkout_refused(
        pc, customer_id, [line(quantity=1), line(E3, quantity=1)], 403, 800066
    )
    assert "limit of 3 subscriptions per customer" in error["description"]
    await pc.buy(customer_id, [line(E3, quantity=1)])  # the third still fits


async def test_the_per_tenant_cap_refuses_a_direct_order_too(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"maxSubscriptionsPerCustomer": 1})
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=1)])
    body = {"billingCycle": "monthly", "partnerOnRecordAttestationAccepted": True,
            "lineItems": [{"lineItemNumber": 0, "offerId": E3, "quantity": 1,
                           "termDuration": "P1Y", "partnerIdOnRecord": "2000002"}]}  # fmt: skip
    await pc.fail("POST", f"/v1/customers/{customer_id}/orders", body, 403, 800066)
    assert len(await subscriptions(pc, customer_id)) == 1


async def test_pending_orders_count_toward_the_per_tenant_cap(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"maxSubscriptionsPerCustomer": 1, "orderProvisioning": "PT1H"})
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=1)])
    assert await subscriptions(pc, customer_id) == []  # still pending
    await checkout_refused(pc, customer_id, [line(quantity=1)], 403, 800066)


# -- a base and its add-ons; seat increases against the per-customer cap -------------------------


async def patch(pc: PartnerClient, customer_id: str, sub: dict[str, Any], **changes: Any) -> Any:
    url = f"/v1/customers/{customer_id}/subscriptions/{sub['id']}"
    current = await pc.ok("GET", url)
    return await pc.call("PATCH", url, {**current, **changes})


async def test_suspending_the_only_base_suspends_its_add_ons(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(E3, quantity=10), line(COPILOT, quantity=4)])
    [base] = await by_offer(pc, customer_id, E3)
    resp = await patch(pc, customer_id, base, status="suspended")
    assert resp.status == 200
    [addon] = await by_offer(pc, customer_id, COPILOT)
    assert (addon["status"], addon["autoRenewEnabled"]) == ("suspended", False)


async def test_an_add_on_with_another_active_base_stays_active(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(
        customer_id, [line(E3, quantity=10), line(BASIC, quantity=5), line(COPILOT, quantity=4)]
    )
    [base] = await by_offer(pc, customer_id, E3)
    assert (await patch(pc, customer_id, base, status="suspended")).status == 200
    [addon] = await by_offer(pc, customer_id, COPILOT)
    assert addon["status"] == "active"


async def test_a_seat_increase_past_the_suites_per_customer_cap_is_refused(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(PREMIUM, quantity=200), line(PREMIUM, quantity=90)])
    first = next(s for s in await by_offer(pc, customer_id, PREMIUM) if s["quantity"] == 200)
    resp = await patch(pc, customer_id, first, quantity=211)
    body = await resp.json()
    assert (resp.status, body["code"]) == (400, 800002)
    assert "300 seats per customer" in body["description"]
    assert (await patch(pc, customer_id, first, quantity=210)).status == 200
