"""Perpetual software through the gateway (a one-use key delivered once, no cancellation), and
a legacy subscription moved by Microsoft's migration API."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PROVIDER, PartnerClient

PERPETUAL = "DG7GMGF0D5RK:0002:DG7GMGF0PWSS"
KEY = re.compile(r"^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$")


async def test_a_perpetual_licence_delivers_its_key_once_and_cannot_be_cancelled(
    gw: Gateway, sim: PartnerClient
) -> None:
    lines = [{"catalogItemId": PERPETUAL, "billingCycle": "one_time", "quantity": 2}]
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order("softco", lines=lines)))["id"])
    assert op["status"] == "succeeded", op
    [sub_id] = op["result"]["subscriptionIds"]
    [delivered] = op["result"]["productKeys"]
    assert delivered["subscriptionId"] == sub_id
    assert KEY.match(delivered["productKey"])
    assert "productKeys" not in (await gw.operation(op["id"]))["result"]  # once only
    assert op["result"]["estimatedUsage"] == []  # one-time: no recurring fee
    customer = op["result"]["customerId"]
    path = f"/v1/customers/{customer}/subscriptions/{sub_id}/cancel"
    cancel = await gw.wait((await gw.submit(path, {"reason": "Other"}))["id"])
    assert cancel["status"] == "failed"
    sub = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions/{sub_id}")
    assert (sub["status"], sub["autoRenewEnabled"], sub["billingCycle"]) == (
        "active", False, "one_time",
    )  # fmt: skip


async def legacy(sim: PartnerClient, offer_name: str) -> tuple[str, str]:
    tenant = await sim.sim(
        "POST", "/tenants",
        {"domain": f"mig{uuid.uuid4().hex[:8]}.onmicrosoft.com", "companyName": "Mig Co",
         "country": "US"}, 201,
    )  # fmt: skip
    tenant_id = tenant["tenantId"]
    await sim.sim("POST", f"/tenants/{tenant_id}/accept-relationship",
                  {"partnerTenantId": PROVIDER["tenant_id"]})  # fmt: skip
    await sim.accept_mca(tenant_id)
    sub = await sim.sim(
        "POST", f"/tenants/{tenant_id}/legacy-subscriptions",
        {"partnerTenantId": PROVIDER["tenant_id"], "offerId": str(uuid.uuid4()).upper(),
         "offerName": offer_name, "quantity": 7}, 201,
    )  # fmt: skip
    return tenant_id, sub["id"]


async def by_id(sim: PartnerClient, customer: str) -> dict[str, dict[str, Any]]:
    listed = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions")
    return {s["id"]: s for s in listed["items"]}


async def test_a_legacy_subscription_moves_by_microsofts_migration_api(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy_id = await legacy(sim, "Microsoft 365 Business Basic")
    await gw.assign(customer)  # a customer from before the gateway
    path = f"/v1/customers/{customer}/subscriptions/{legacy_id}/migrate-to-nce"
    op = await gw.wait((await gw.submit(path, {}))["id"])
    assert op["status"] == "succeeded", op
    assert [s["name"] for s in op["steps"]] == [
        "validate_migration", "create_migration", "await_migration",
    ]  # fmt: skip
    [new_id] = op["result"]["subscriptionIds"]
    held = await by_id(sim, customer)
    assert held[legacy_id]["status"] == "suspended"
    assert (held[new_id]["status"], held[new_id]["quantity"]) == ("active", 7)
    assert held[new_id]["offerId"].startswith("CFQ7TTC0LH18:0001")


async def test_a_legacy_subscription_without_an_nce_path_is_refused_unchanged(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, legacy_id = await legacy(sim, "Some Retired Offer")
    await gw.assign(customer)  # a customer from before the gateway
    path = f"/v1/customers/{customer}/subscriptions/{legacy_id}/migrate-to-nce"
    op = await gw.wait((await gw.submit(path, {}))["id"])
    assert op["status"] == "failed"
    assert op["error"]["reason"] == "migration_not_eligible"
    assert "move-to-nce" in op["error"]["message"]
    assert (await by_id(sim, customer))[legacy_id]["status"] == "active"


async def test_a_migration_request_with_an_unknown_field_is_a_400(gw: Gateway) -> None:
    resp = await gw.post(
        "/v1/customers/6a1e4f8c-93b1-4d7e-8a43-2b1f0e5c7d90/subscriptions/0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5/migrate-to-nce",
        {"seats": 3},
    )
    body = await resp.json()
    assert (resp.status, body["field"]) == (400, "seats")
