"""Purchases that wait for someone outside the gateway (a customer's admin, a reseller) and
purchases that fail on who the reseller is: ``action_required`` with what to do, then resuming
by itself; or ``failed`` with Microsoft's code and a sentence a reseller can act on."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import DIRECT, PROVIDER, PartnerClient

DOMAIN = "contosoexisting.onmicrosoft.com"


def existing_order(domain: str = DOMAIN, **changes: Any) -> dict[str, Any]:
    return purchase_order(customer={"existingTenant": {"domain": domain}}, **changes)


async def existing_tenant(sim: PartnerClient, domain: str = DOMAIN, country: str = "US") -> str:
    body = {"domain": domain, "companyName": "Contoso Existing", "country": country}
    return str((await sim.sim("POST", "/tenants", body, status=201))["tenantId"])


async def accept_relationship(sim: PartnerClient, tenant_id: str) -> None:
    await sim.sim("POST", f"/tenants/{tenant_id}/accept-relationship",
                  {"partnerTenantId": PROVIDER["tenant_id"]})  # fmt: skip


async def new_reseller(
    sim: PartnerClient, *, accepted: bool, mpa_signed: bool = True
) -> dict[str, Any]:
    body = {"name": "Northwind Resellers", "kind": "indirect_reseller", "country": "US",
            "mpaSigned": mpa_signed}  # fmt: skip
    partner = dict(await sim.sim("POST", "/partners", body, status=201))
    if accepted:
        await accept_invitation(sim, partner["tenantId"])
    return partner


async def accept_invitation(sim: PartnerClient, reseller_tenant_id: str) -> None:
    await sim.sim("POST", f"/partners/{reseller_tenant_id}/accept-provider-invitation",
                  {"providerTenantId": PROVIDER["tenant_id"]})  # fmt: skip


async def assert_subscribed(sim: PartnerClient, op: dict[str, Any], customer_id: str) -> None:
    assert op["status"] == "succeeded", op
    assert op["result"]["customerId"] == customer_id
    [sub_id] = op["result"]["subscriptionIds"]
    sub = await sim.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{sub_id}")
    assert (sub["status"], sub["quantity"]) == ("active", 5)


async def test_an_existing_tenant_order_pauses_for_the_relationship_then_resumes_by_itself(
    gw: Gateway, sim: PartnerClient
) -> None:
    tenant_id = await existing_tenant(sim)
    accepted = await gw.submit("/v1/orders", existing_order())
    paused = await gw.wait(accepted["id"], until=("action_required", "succeeded", "failed"))
    assert paused["status"] == "action_required", paused
    action = paused["action"]
    assert action["kind"] == "customer_invitation"
    assert f"partnerId={PROVIDER['tenant_id']}" in action["url"]
    assert "global admin must accept" in action["message"]
    assert "expiresAt" in action
    assert "customerId" not in paused["result"]
    await accept_relationship(sim, tenant_id)
    op = await gw.wait(accepted["id"])
    await assert_subscribed(sim, op, tenant_id)
    assert "action" not in op
    assert "adminCredentials" not in op["result"]  # an existing tenant's admin is not ours


async def test_an_existing_tenant_that_already_accepted_is_bought_for_without_pausing(
    gw: Gateway, sim: PartnerClient
) -> None:
    tenant_id = await existing_tenant(sim)
    await accept_relationship(sim, tenant_id)
    op = await gw.wait((await gw.submit("/v1/orders", existing_order()))["id"])
    await assert_subscribed(sim, op, tenant_id)
    assert [s["name"] for s in op["steps"]] == [
        "check_reseller", "find_customer", "accept_mca", "create_cart", "checkout",
        "await_provisioning",
    ]  # fmt: skip
    assert op["steps"][1]["attempts"] == 1


async def test_an_existing_tenant_order_matches_the_domain_exactly(
    gw: Gateway, sim: PartnerClient
) -> None:
    """A customer whose domain only starts like the one ordered is someone else."""
    await accept_relationship(sim, await existing_tenant(sim, "contosoexistingtwo.onmicrosoft.com"))
    accepted = await gw.submit("/v1/orders", existing_order())
    paused = await gw.wait(accepted["id"], until=("action_required", "succeeded", "failed"))
    assert paused["status"] == "action_required", paused


async def test_an_invitation_nobody_accepts_fails_with_the_expiry(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(invitation_expiry_days=0.000001)
    await existing_tenant(sim)
    op = await gw.wait((await gw.submit("/v1/orders", existing_order()))["id"])
    assert op["status"] == "failed", op
    assert "did not accept the reseller relationship by" in op["error"]["message"]
    assert op["error"]["step"] == "find_customer"
    assert "action" not in op


async def test_additional_resellers_for_an_existing_us_tenant_fail_before_any_cart(
    gw: Gateway, sim: PartnerClient
) -> None:
    tenant_id = await existing_tenant(sim)
    await accept_relationship(sim, tenant_id)
    extra = await new_reseller(sim, accepted=True)
    order = existing_order(additionalResellerMpnIds=[extra["mpnId"]])
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "failed", op
    assert f"only for customers in EU/EFTA countries; {DOMAIN} is in US" in op["error"]["message"]
    state = await sim.sim("GET", "/state")
    assert state["carts"] == []


async def test_a_reseller_that_has_not_accepted_the_invitation_pauses_the_purchase(
    gw: Gateway, sim: PartnerClient
) -> None:
    reseller = await new_reseller(sim, accepted=False)
    order = purchase_order(reseller={"mpnId": reseller["mpnId"], "domain": reseller["domain"]})
    accepted = await gw.submit("/v1/orders", order)
    paused = await gw.wait(accepted["id"], until=("action_required", "succeeded", "failed"))
    assert paused["status"] == "action_required", paused
    assert paused["action"]["kind"] == "reseller_invitation"
    assert reseller["mpnId"] in paused["action"]["message"]
    await accept_invitation(sim, reseller["tenantId"])
    op = await gw.wait(accepted["id"])
    assert op["status"] == "succeeded", op
    [sub_id] = op["result"]["subscriptionIds"]
    sub = await sim.ok("GET", f"/v1/customers/{op['result']['customerId']}/subscriptions/{sub_id}")
    assert sub["partnerId"] == reseller["mpnId"]


async def test_an_unknown_reseller_mpn_fails_with_microsofts_code_and_a_sentence(
    gw: Gateway, sim: PartnerClient
) -> None:
    order = purchase_order(reseller={"mpnId": "9999999", "domain": "nobody.onmicrosoft.com"})
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "failed", op
    error = op["error"]
    assert error["partnerCenterCode"] in (3000, 800015)
    assert error["partnerCenterStatus"] in (400, 404)
    assert "does not know MPN ID 9999999" in error["message"]
    assert error["message"].endswith(".")
    customers = await sim.ok("GET", "/v1/customers")
    assert customers["totalCount"] == 0


async def test_a_reseller_without_the_partner_agreement_fails_with_a_sentence_about_it(
    gw: Gateway, sim: PartnerClient
) -> None:
    reseller = await new_reseller(sim, accepted=True, mpa_signed=False)
    order = purchase_order(reseller={"mpnId": reseller["mpnId"], "domain": reseller["domain"]})
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "failed", op
    assert "has not signed the Microsoft Partner Agreement" in op["error"]["message"]
    assert reseller["mpnId"] in op["error"]["message"]
    customers = await sim.ok("GET", "/v1/customers")
    assert customers["totalCount"] == 0


async def test_a_direct_partners_mpn_as_reseller_fails_as_not_an_indirect_reseller(
    gw: Gateway, sim: PartnerClient
) -> None:
    order = purchase_order(reseller={"mpnId": DIRECT["mpn_id"], "domain": "direct.onmicrosoft.com"})
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "failed", op
    assert (op["error"]["partnerCenterStatus"], op["error"]["partnerCenterCode"]) == (400, 2204)
    assert f"MPN ID {DIRECT['mpn_id']} is not a CSP indirect reseller" in op["error"]["message"]
    assert (await sim.ok("GET", "/v1/customers"))["totalCount"] == 0
