"""The reseller onboarding check on its own (``GET /v1/resellers/{mpnId}``), EU/EFTA additional
resellers through a purchase, and changing a subscription's partner of record."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import DIRECT, PROVIDER, PartnerClient


async def new_reseller(
    sim: PartnerClient, name: str, *, accept: bool = True, mpa_signed: bool = True
) -> dict[str, Any]:
    body = {"name": name, "kind": "indirect_reseller", "country": "IT", "mpaSigned": mpa_signed}
    reseller = dict(await sim.sim("POST", "/partners", body, status=201))
    if accept:
        await sim.sim(
            "POST",
            f"/partners/{reseller['tenantId']}/accept-provider-invitation",
            {"providerTenantId": PROVIDER["tenant_id"]},
        )
    return reseller


async def reseller_view(gw: Gateway, mpn_id: str, query: str = "") -> dict[str, Any]:
    resp = await gw.http.get(f"/v1/resellers/{mpn_id}{query}")
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_a_reseller_ready_to_sell_is_reported_ready(gw: Gateway) -> None:
    view = await reseller_view(gw, "2000002", "?domain=FabrikamResellers.onmicrosoft.com")
    assert view == {
        "mpnId": "2000002",
        "domain": "fabrikamresellers.onmicrosoft.com",
        "name": "Fabrikam Resellers",
        "tenantId": "4c2b1f3e-7d6a-4e5b-9c8d-000000000002",
        "mpnFound": True,
        "mpaSigned": True,
        "acceptedInvitation": True,
        "ready": True,
    }


async def test_an_unknown_mpn_is_not_ready_and_keeps_microsofts_code(gw: Gateway) -> None:
    view = await reseller_view(gw, "9999999")
    assert (view["ready"], view["mpnFound"], view["partnerCenterCode"]) == (False, False, 3000)
    assert "9999999" in view["nextStep"]
    assert "check the reseller's MPN ID" in view["nextStep"]


async def test_a_partner_that_is_not_an_indirect_reseller_is_named_as_such(gw: Gateway) -> None:
    view = await reseller_view(gw, DIRECT["mpn_id"])
    assert (view["ready"], view["partnerCenterCode"]) == (False, 2204)
    assert "not a CSP indirect reseller" in view["nextStep"]


async def test_a_reseller_without_the_partner_agreement_is_told_to_sign_it(
    gw: Gateway, sim: PartnerClient
) -> None:
    reseller = await new_reseller(sim, "Unsigned Srl", mpa_signed=False)
    view = await reseller_view(gw, reseller["mpnId"])
    assert (view["ready"], view["mpaSigned"], view["acceptedInvitation"]) == (False, False, False)
    assert "Microsoft Partner Agreement" in view["nextStep"]


async def test_a_reseller_that_has_not_accepted_is_seen_ready_as_soon_as_it_accepts(
    gw: Gateway, sim: PartnerClient
) -> None:
    """A negative answer is never cached: the next look after acceptance says ready."""
    reseller = await new_reseller(sim, "Late Srl", accept=False)
    view = await reseller_view(gw, reseller["mpnId"])
    assert (view["ready"], view["mpaSigned"], view["acceptedInvitation"]) == (False, True, False)
    assert "accept" in view["nextStep"]
    await sim.sim(
        "POST",
        f"/partners/{reseller['tenantId']}/accept-provider-invitation",
        {"providerTenantId": PROVIDER["tenant_id"]},
    )
    assert (await reseller_view(gw, reseller["mpnId"]))["ready"] is True


@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/resellers/12ab", "mpnId"), ("/v1/resellers/2000002?domain=fabrikam.com", "domain")],
)
async def test_a_malformed_reseller_lookup_is_a_400_naming_the_field(
    gw: Gateway, sim: PartnerClient, path: str, field: str
) -> None:
    resp = await gw.http.get(path)
    body = await resp.json()
    assert (resp.status, body["field"]) == (400, field)
    calls = (await sim.sim("GET", "/requests?limit=50"))["items"]
    assert not [c for c in calls if c["path"].startswith("/v1/")]


async def test_an_eu_customer_buys_with_five_additional_resellers_initial_reseller_first(
    gw: Gateway, sim: PartnerClient
) -> None:
    extra = [(await new_reseller(sim, f"Extra {i} Srl"))["mpnId"] for i in range(5)]
    order = purchase_order("contosoeu", country="IT", additionalResellerMpnIds=extra)
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "succeeded", op
    customer, [sub_id] = op["result"]["customerId"], op["result"]["subscriptionIds"]
    sub = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions/{sub_id}")
    assert (sub["partnerId"], sub["additionalPartnerIdsOnRecord"]) == ("2000002", extra)
    [cart] = (await sim.sim("GET", "/state"))["carts"]
    participants = cart["lines"][0]["participants"]
    assert participants[0] == ["transaction_reseller", "2000002"]
    assert [value for _, value in participants[1:]] == extra


async def bought(gw: Gateway) -> tuple[str, str]:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    return op["result"]["customerId"], op["result"]["subscriptionIds"][0]


async def test_the_partner_of_record_of_a_subscription_can_be_changed(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub_id = await bought(gw)
    other = await new_reseller(sim, "Successor Srl")
    path = f"/v1/customers/{customer}/subscriptions/{sub_id}/partner-of-record"
    op = await gw.wait((await gw.submit(path, {"mpnId": other["mpnId"]}))["id"])
    assert op["status"] == "succeeded", op
    assert [s["name"] for s in op["steps"]] == ["check_reseller", "update_subscription"]
    assert op["result"]["resellerMpnId"] == other["mpnId"]
    sub = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions/{sub_id}")
    assert (sub["partnerId"], sub["quantity"], sub["autoRenewEnabled"]) == (other["mpnId"], 5, True)


async def test_a_new_partner_of_record_that_has_not_accepted_waits_then_goes_on(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub_id = await bought(gw)
    late = await new_reseller(sim, "Late Successor Srl", accept=False)
    path = f"/v1/customers/{customer}/subscriptions/{sub_id}/partner-of-record"
    accepted = await gw.submit(path, {"mpnId": late["mpnId"]})
    waiting = await gw.wait(accepted["id"], until=("action_required", "succeeded", "failed"))
    assert waiting["status"] == "action_required"
    assert waiting["action"]["kind"] == "reseller_invitation"
    await sim.sim(
        "POST",
        f"/partners/{late['tenantId']}/accept-provider-invitation",
        {"providerTenantId": PROVIDER["tenant_id"]},
    )
    assert (await gw.wait(accepted["id"]))["status"] == "succeeded"
    sub = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions/{sub_id}")
    assert sub["partnerId"] == late["mpnId"]


async def test_an_unknown_partner_of_record_fails_with_microsofts_code_and_no_patch(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub_id = await bought(gw)
    path = f"/v1/customers/{customer}/subscriptions/{sub_id}/partner-of-record"
    op = await gw.wait((await gw.submit(path, {"mpnId": "9999999"}))["id"])
    assert op["status"] == "failed"
    assert op["error"]["partnerCenterCode"] == 3000
    calls = (await sim.sim("GET", "/requests?limit=100"))["items"]
    assert not [c for c in calls if c["method"] == "PATCH"]


async def test_a_partner_of_record_request_needs_digits(gw: Gateway) -> None:
    resp = await gw.post(
        "/v1/customers/6a1e4f8c-93b1-4d7e-8a43-2b1f0e5c7d90/subscriptions/0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5/partner-of-record",
        {"mpnId": "PARTNER-1"},
    )
    body = await resp.json()
    assert (resp.status, body["field"]) == (400, "mpnId")
