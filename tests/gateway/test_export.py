"""``GET /v1/customers/{id}/subscriptions.csv``: the customer's subscriptions as CSV with the
columns of Partner Center's export (seed ``003_…``)."""

from __future__ import annotations

import csv
import io

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PartnerClient

HEADER = ["Subscription ID", "Name", "Quantity", "Status", "Auto-renew", "Renewal date",
          "Billing cycle", "Promotion ID", "Reseller ID"]  # fmt: skip


async def export(gw: Gateway, customer_id: str) -> list[list[str]]:
    resp = await gw.http.get(f"/v1/customers/{customer_id}/subscriptions.csv")
    text = await resp.text()
    assert resp.status == 200, text
    assert resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(text)))


async def test_the_export_lists_each_subscription_with_the_seed_columns(
    gw: Gateway, sim: PartnerClient
) -> None:
    lines = [
        {"planCode": "Microsoft 365 Business Basic (NCE COM 1YR MTH)", "quantity": 5,
         "friendlyName": "Sales, \"EU\" team"},
        {"planCode": "Microsoft 365 E3 (NCE COM 1YR ANN)", "quantity": 2},
    ]  # fmt: skip
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order(lines=lines)))["id"])
    assert op["status"] == "succeeded", op
    customer_id = op["result"]["customerId"]
    basic_id, e3_id = op["result"]["subscriptionIds"]
    header, *rows = await export(gw, customer_id)
    assert header == HEADER
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {basic_id, e3_id}
    assert by_id[basic_id] == [basic_id, 'Sales, "EU" team', "5", "active", "on", "2027-01-05",
                               "monthly", "", "2000002"]  # fmt: skip
    assert by_id[e3_id] == [e3_id, "Microsoft 365 E3", "2", "active", "on", "2027-01-05",
                            "annual", "", "2000002"]  # fmt: skip


async def test_the_export_shows_auto_renew_off_and_no_renewal_date_after_a_suspend(
    gw: Gateway, sim: PartnerClient
) -> None:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    customer_id, [sub_id] = op["result"]["customerId"], op["result"]["subscriptionIds"]
    await sim.ok("PATCH", f"/v1/customers/{customer_id}/subscriptions/{sub_id}",
                 {"status": "suspended"})  # fmt: skip
    [_, row] = await export(gw, customer_id)
    assert row[3:6] == ["suspended", "off", ""]


async def test_a_customer_without_subscriptions_exports_only_the_header(
    gw: Gateway, sim: PartnerClient
) -> None:
    body = {"domain": "empty.onmicrosoft.com", "companyName": "Empty", "country": "US"}
    tenant_id = (await sim.sim("POST", "/tenants", body, status=201))["tenantId"]
    await sim.sim("POST", f"/tenants/{tenant_id}/accept-relationship",
                  {"partnerTenantId": sim.tenant_id})  # fmt: skip
    await gw.assign(tenant_id)  # a customer from before the gateway
    assert await export(gw, tenant_id) == [HEADER]


async def test_an_unknown_customer_is_404_and_a_bad_id_400(gw: Gateway) -> None:
    missing = await gw.http.get(
        "/v1/customers/00000000-0000-4000-8000-000000000000/subscriptions.csv"
    )
    assert missing.status == 404
    assert "does not exist" in (await missing.json())["message"]
    bad = await gw.http.get("/v1/customers/not%20an%20id/subscriptions.csv")
    assert bad.status == 400


async def test_a_partner_center_refusal_is_502_naming_its_code(
    gw: Gateway, sim: PartnerClient
) -> None:
    await sim.sim("POST", "/faults", {"method": "GET", "path": "/subscriptions$", "status": 400,
                                      "code": 800002, "times": 1}, status=201)  # fmt: skip
    await gw.assign("00000000-0000-4000-8000-000000000000")  # the caller's, as far as it knows
    resp = await gw.http.get("/v1/customers/00000000-0000-4000-8000-000000000000/subscriptions.csv")
    body = await resp.json()
    assert (resp.status, body["code"]) == (502, "partner_center_error"), body
    assert "400 / 800002" in body["message"]
