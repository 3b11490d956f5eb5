"""Perpetual software (seed ``004_…``): paid once, never renews, a one-use product key delivered
on provisioning, no 168-hour cancellation, and returns outside the API."""

from __future__ import annotations

import re
from typing import Any

from tests.simulator.conftest import PartnerClient, line

SERVER = "DG7GMGF0D5RK:0002:DG7GMGF0PWSS"
KEY = re.compile(r"^[B-Y2-9]{5}(-[B-Y2-9]{5}){4}$")


async def perpetual_customer(pc: PartnerClient, quantity: int = 2) -> tuple[str, dict[str, Any]]:
    customer = await pc.new_customer("contoso.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    result = await pc.buy(customer["id"], [line(SERVER, quantity=quantity, term=None,
                                                cycle="one_time")])  # fmt: skip
    return str(customer["id"]), result["orders"][0]


async def test_a_perpetual_licence_gets_a_product_key_on_its_order_line(pc: PartnerClient) -> None:
    customer_id, order = await perpetual_customer(pc)
    [entry] = order["lineItems"]
    assert KEY.match(entry["productKey"]), entry
    again = await pc.ok("GET", f"/v1/customers/{customer_id}/orders/{order['id']}")
    assert again["lineItems"][0]["productKey"] == entry["productKey"]
    status = await pc.ok(
        "GET", f"/v1/customers/{customer_id}/orders/{order['id']}/provisioningstatus"
    )
    assert status["items"][0]["productKey"] == entry["productKey"]
    assert status["items"][0]["status"] == "fulfilled"


async def test_each_perpetual_purchase_gets_its_own_key(pc: PartnerClient) -> None:
    customer_id, first = await perpetual_customer(pc)
    result = await pc.buy(customer_id, [line(SERVER, quantity=1, term=None, cycle="one_time")])
    second = result["orders"][0]
    assert first["lineItems"][0]["productKey"] != second["lineItems"][0]["productKey"]


async def test_subscription_offers_carry_no_product_key(pc: PartnerClient) -> None:
    customer = await pc.new_customer("contoso.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    order = (await pc.buy(customer["id"]))["orders"][0]
    assert "productKey" not in order["lineItems"][0]
    status = await pc.ok(
        "GET", f"/v1/customers/{customer['id']}/orders/{order['id']}/provisioningstatus"
    )
    assert "productKey" not in status["items"][0]


async def test_a_pending_perpetual_order_shows_no_key_until_it_is_provisioned(
    pc: PartnerClient,
) -> None:
    await pc.sim("PUT", "/config", {"orderProvisioning": "PT1H"})
    customer_id, order = await perpetual_customer(pc)
    assert order["status"] == "pending"
    assert "productKey" not in order["lineItems"][0]
    url = f"/v1/customers/{customer_id}/orders/{order['id']}"
    assert "productKey" not in (await pc.ok("GET", f"{url}/provisioningstatus"))["items"][0]
    await pc.advance("PT1H")
    done = await pc.ok("GET", url)
    assert done["status"] == "completed"
    assert KEY.match(done["lineItems"][0]["productKey"])


async def test_a_perpetual_licence_cannot_be_cancelled_even_on_its_first_day(
    pc: PartnerClient,
) -> None:
    customer_id, order = await perpetual_customer(pc)
    sub_id = order["lineItems"][0]["subscriptionId"]
    url = f"/v1/customers/{customer_id}/subscriptions/{sub_id}"
    sub = await pc.ok("GET", url)
    assert "cancellationAllowedUntilDate" not in sub
    assert (sub["refundOptions"], sub["autoRenewEnabled"]) == ([], False)
    await pc.fail("PATCH", url, {"status": "deleted"}, 400, 900213)
    assert (await pc.ok("GET", url))["status"] == "active"


async def test_a_perpetual_licence_is_paid_once_and_never_renews(pc: PartnerClient) -> None:
    customer_id, order = await perpetual_customer(pc)
    assert order["billingCycle"] == "one_time"
    assert order["lineItems"][0]["termDuration"] is None
    sub_id = order["lineItems"][0]["subscriptionId"]
    url = f"/v1/customers/{customer_id}/subscriptions/{sub_id}"
    await pc.fail("PATCH", url, {"autoRenewEnabled": True}, 400, 800093)
    await pc.advance("P800D")
    sub = await pc.ok("GET", url)
    assert (sub["status"], sub["commitmentEndDate"], sub["autoRenewEnabled"]) == (
        "active", None, False,
    )  # fmt: skip
