"""Purchases through the gateway, end to end against the simulator."""

from __future__ import annotations

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PartnerClient


async def test_a_purchase_for_a_new_tenant_through_a_reseller_succeeds(
    gw: Gateway, sim: PartnerClient
) -> None:
    accepted = await gw.submit("/v1/orders", purchase_order())
    assert accepted["status"] == "accepted"
    op = await gw.wait(accepted["id"])
    assert op["status"] == "succeeded", op
    result = op["result"]
    assert [s["name"] for s in op["steps"]] == [
        "check_reseller", "check_domain", "create_customer", "accept_mca", "create_cart",
        "checkout", "await_provisioning",
    ]  # fmt: skip
    assert result["adminCredentials"]["adminUserName"] == "admin@contoso.onmicrosoft.com"
    customer_id, [sub_id] = result["customerId"], result["subscriptionIds"]
    sub = await sim.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{sub_id}")
    assert (sub["quantity"], sub["partnerId"], sub["status"]) == (5, "2000002", "active")
    # the first, partial month as the marketplace shows it: fee / days in month x days left
    [estimate] = result["estimatedUsage"]
    assert estimate["subscriptionId"] == sub_id
    assert (estimate["monthlyFee"], estimate["from"]) == (30.0, "2026-01-05")
    assert estimate["estimatedUsage"] == round(30.0 / 31 * 27, 2)
    again = await gw.operation(op["id"])
    assert "adminCredentials" not in again["result"]
