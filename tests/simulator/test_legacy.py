"""Legacy CSP subscriptions: seeded through the control plane, then read and changed over /v1
under the legacy rules (suspend rather than delete, free seat changes, no renewal after the
11 July 2022 cutover)."""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import PROVIDER, RESELLER, PartnerClient

E3_LEGACY = "796B6B5F-613C-4E24-A17C-EBA730D49C02"


async def existing_tenant(pc: PartnerClient, domain: str = "legacyco.onmicrosoft.com") -> str:
    """A tenant the provider already serves (it accepted the provider's relationship)."""
    tenant = await pc.sim(
        "POST", "/tenants", {"domain": domain, "companyName": "Legacy Co", "country": "US"}, 201
    )
    await pc.sim(
        "POST",
        f"/tenants/{tenant['tenantId']}/accept-relationship",
        {"partnerTenantId": PROVIDER["tenant_id"]},
    )
    return str(tenant["tenantId"])


async def seed(pc: PartnerClient, tenant_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "partnerTenantId": PROVIDER["tenant_id"],
        "offerId": E3_LEGACY,
        "offerName": "Office 365 Enterprise E3",
        "quantity": 10,
        **changes,
    }
    return dict(await pc.sim("POST", f"/tenants/{tenant_id}/legacy-subscriptions", body, 201))


async def legacy_sub(pc: PartnerClient) -> tuple[str, dict[str, Any]]:
    tenant_id = await existing_tenant(pc)
    return tenant_id, await seed(pc, tenant_id)


def path(tenant_id: str, sub: dict[str, Any]) -> str:
    return f"/v1/customers/{tenant_id}/subscriptions/{sub['id']}"


async def patch(
    pc: PartnerClient, tenant_id: str, sub: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    current = await pc.ok("GET", path(tenant_id, sub))
    return dict(await pc.ok("PATCH", path(tenant_id, sub), {**current, **changes}))


# -- seeding -------------------------------------------------------------------------------------


async def test_a_seeded_legacy_subscription_reads_like_a_partner_center_legacy_one(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    assert sub["productType"] == {"id": "OnlineServices", "displayName": "OnlineServices"}
    assert (sub["offerId"], sub["offerName"], sub["quantity"]) == (
        E3_LEGACY, "Office 365 Enterprise E3", 10
    )  # fmt: skip
    assert (sub["termDuration"], sub["billingCycle"], sub["status"]) == ("P1Y", "monthly", "active")
    assert sub["autoRenewEnabled"] is True
    assert sub["commitmentEndDate"] == "2027-01-04T00:00:00Z"
    assert "cancellationAllowedUntilDate" not in sub
    assert "refundableQuantity" not in sub
    assert sub["refundOptions"] == []
    assert sub["links"]["offer"]["uri"] == f"/offers/{E3_LEGACY}"
    assert await pc.ok("GET", path(tenant_id, sub)) == sub
    listed = await pc.ok("GET", f"/v1/customers/{tenant_id}/subscriptions")
    assert [s["id"] for s in listed["items"]] == [sub["id"]]
    status = await pc.ok("GET", path(tenant_id, sub) + "/provisioningstatus")
    assert (status["skuId"], status["quantity"]) == (E3_LEGACY, 10)


async def test_a_legacy_subscription_can_be_seeded_with_annual_billing(pc: PartnerClient) -> None:
    tenant_id = await existing_tenant(pc)
    sub = await seed(pc, tenant_id, billingCycle="annual")
    assert sub["billingCycle"] == "annual"


async def test_seeding_for_a_partner_without_the_customers_relationship_is_refused(
    pc: PartnerClient,
) -> None:
    tenant = await pc.sim(
        "POST", "/tenants", {"domain": "norel.onmicrosoft.com", "companyName": "N", "country": "US"}, 201
    )  # fmt: skip
    resp = await pc.http.post(
        f"/_sim/tenants/{tenant['tenantId']}/legacy-subscriptions",
        json={"partnerTenantId": PROVIDER["tenant_id"], "offerId": E3_LEGACY,
              "offerName": "Office 365 Enterprise E3", "quantity": 3},
    )  # fmt: skip
    body = await resp.json()
    assert (resp.status, body["source"]) == (400, "Simulator")
    assert "no relationship" in body["description"]
    state = await pc.sim("GET", "/state")
    assert state["subscriptions"] == []


async def test_seeding_refuses_bad_input_naming_the_field(pc: PartnerClient) -> None:
    tenant_id = await existing_tenant(pc)
    url = f"/_sim/tenants/{tenant_id}/legacy-subscriptions"
    good = {"partnerTenantId": PROVIDER["tenant_id"], "offerId": E3_LEGACY,
            "offerName": "Office 365 Enterprise E3", "quantity": 3}  # fmt: skip
    for change, field in (
        ({"offerId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971"}, "offerId"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({"billingCycle": "triennial"}, "billingCycle"),
        ({"partnerTenantId": "00000000-0000-4000-8000-000000000000"}, "partnerTenantId"),
    ):
        resp = await pc.http.post(url, json={**good, **change})
        body = await resp.json()
        assert (resp.status, body["source"]) == (400, "Simulator"), body
        assert field in body["description"], body
    missing = await pc.http.post(
        "/_sim/tenants/00000000-0000-4000-8000-000000000000/legacy-subscriptions", json=good
    )
    assert missing.status == 404
    assert (await pc.sim("GET", "/state"))["subscriptions"] == []


async def test_a_legacy_subscription_is_only_visible_to_the_partner_holding_it(
    pc: PartnerClient, reseller_pc: PartnerClient
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    await pc.sim(
        "POST",
        f"/tenants/{tenant_id}/accept-relationship",
        {"partnerTenantId": RESELLER["tenant_id"]},
    )
    await reseller_pc.fail("GET", path(tenant_id, sub), None, 404, 20003)


# -- legacy rules over PATCH ---------------------------------------------------------------------


async def test_a_legacy_subscription_can_be_suspended_long_after_purchase_and_reactivated(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    await pc.advance("P30D")
    suspended = await patch(pc, tenant_id, sub, status="suspended")
    assert (suspended["status"], suspended["autoRenewEnabled"]) == ("suspended", False)
    assert suspended["suspensionReasons"] == ["PartnerInitiated"]
    active = await patch(pc, tenant_id, sub, status="active", autoRenewEnabled=True)
    assert (active["status"], active["autoRenewEnabled"]) == ("active", True)


async def test_legacy_seats_go_down_as_well_as_up_at_any_time(pc: PartnerClient) -> None:
    tenant_id, sub = await legacy_sub(pc)
    await pc.advance("P60D")
    assert (await patch(pc, tenant_id, sub, quantity=4))["quantity"] == 4
    assert (await patch(pc, tenant_id, sub, quantity=12))["quantity"] == 12
    assert (await pc.ok("GET", path(tenant_id, sub)))["quantity"] == 12


async def test_legacy_seats_outside_the_range_are_refused(pc: PartnerClient) -> None:
    tenant_id, sub = await legacy_sub(pc)
    current = await pc.ok("GET", path(tenant_id, sub))
    await pc.fail("PATCH", path(tenant_id, sub), {**current, "quantity": 0}, 400, 2002)
    await pc.fail("PATCH", path(tenant_id, sub), {**current, "quantity": 10_001}, 400, 2002)
    assert (await pc.ok("GET", path(tenant_id, sub)))["quantity"] == 10


async def test_deleting_a_legacy_subscription_is_refused_and_it_stays_active(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    current = await pc.ok("GET", path(tenant_id, sub))
    body = await pc.fail(
        "PATCH", path(tenant_id, sub), {**current, "status": "deleted"}, 400, 800040
    )
    assert "suspended, not deleted" in body["description"]
    after = await pc.ok("GET", path(tenant_id, sub))
    assert (after["status"], after["attributes"]["etag"]) == (
        "active",
        current["attributes"]["etag"],
    )


async def test_a_suspended_legacy_subscription_refuses_seat_changes_and_deletion(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    suspended = await patch(pc, tenant_id, sub, status="suspended")
    await pc.fail("PATCH", path(tenant_id, sub), {**suspended, "quantity": 3}, 400, 800091)
    await pc.fail("PATCH", path(tenant_id, sub), {**suspended, "status": "deleted"}, 400, 800040)
    after = await pc.ok("GET", path(tenant_id, sub))
    assert (after["status"], after["quantity"]) == ("suspended", 10)


async def test_a_legacy_status_and_seat_change_in_one_patch_is_refused(pc: PartnerClient) -> None:
    tenant_id, sub = await legacy_sub(pc)
    current = await pc.ok("GET", path(tenant_id, sub))
    await pc.fail(
        "PATCH", path(tenant_id, sub), {**current, "status": "suspended", "quantity": 2}, 400, 2001
    )
    assert (await pc.ok("GET", path(tenant_id, sub)))["status"] == "active"


# -- what time does ------------------------------------------------------------------------------


async def test_a_suspended_legacy_subscription_is_deleted_90_days_after_suspension(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    await patch(pc, tenant_id, sub, status="suspended")
    await pc.advance("P89D")
    assert (await pc.ok("GET", path(tenant_id, sub)))["status"] == "suspended"
    events = await pc.advance("P1D")
    assert [e["type"] for e in events] == ["subscriptionDeleted"]
    assert events[0]["resourceUri"] == path(tenant_id, sub).removeprefix("/v1")
    deleted = await pc.ok("GET", path(tenant_id, sub))
    assert deleted["status"] == "deleted"
    await pc.fail("PATCH", path(tenant_id, sub), {**deleted, "status": "active"}, 400, 2011)


async def test_a_legacy_subscription_reactivated_in_time_is_not_deleted(pc: PartnerClient) -> None:
    tenant_id, sub = await legacy_sub(pc)
    await patch(pc, tenant_id, sub, status="suspended")
    await pc.advance("P10D")
    await patch(pc, tenant_id, sub, status="active")
    events = await pc.advance("P100D")
    assert "subscriptionDeleted" not in [e["type"] for e in events]
    assert (await pc.ok("GET", path(tenant_id, sub)))["status"] == "active"


async def test_a_legacy_subscription_expires_at_term_end_even_with_auto_renew_on(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    events = await pc.sim("POST", "/clock/advance", {"to": "2027-01-05T00:00:00Z"})
    mine = [e["type"] for e in events["events"] if e["resourceUri"].endswith(sub["id"])]
    assert mine == ["subscriptionExpired"]
    expired = await pc.ok("GET", path(tenant_id, sub))
    assert (expired["status"], expired["commitmentEndDate"]) == (
        "expired",
        sub["commitmentEndDate"],
    )
    await pc.fail("PATCH", path(tenant_id, sub), {**expired, "quantity": 3}, 400, 900279)


async def test_a_legacy_subscription_suspended_at_term_end_waits_for_its_deletion(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    await pc.advance("P300D")  # suspended at 2026-11-01T09:00Z
    await patch(pc, tenant_id, sub, status="suspended")
    await pc.sim("POST", "/clock/advance", {"to": "2027-01-30T08:59:00Z"})
    assert (await pc.ok("GET", path(tenant_id, sub)))["status"] == "suspended"
    await pc.sim("POST", "/clock/advance", {"to": "2027-01-30T09:00:00Z"})
    assert (await pc.ok("GET", path(tenant_id, sub)))["status"] == "deleted"


async def test_nce_subscriptions_still_renew_beside_legacy_ones(pc: PartnerClient) -> None:
    tenant_id, legacy = await legacy_sub(pc)
    await pc.accept_mca(tenant_id)
    result = await pc.buy(tenant_id)
    nce_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    events = await pc.sim("POST", "/clock/advance", {"to": "2027-01-05T00:00:00Z"})
    kinds = {(e["type"], e["resourceUri"].rsplit("/", 1)[1]) for e in events["events"]}
    assert ("renewalStarted", nce_id) in kinds
    assert ("subscriptionExpired", legacy["id"]) in kinds


async def test_a_new_commerce_transfer_refuses_a_legacy_subscription_and_moves_nothing(
    pc: PartnerClient,
) -> None:
    tenant_id, sub = await legacy_sub(pc)
    made = await pc.sim(
        "POST", "/partners", {"name": "Target", "kind": "indirect_provider", "country": "IT"}, 201
    )
    target = await pc.as_partner(made["clientId"], made["clientSecret"], made["tenantId"])
    await pc.sim(
        "POST",
        f"/tenants/{tenant_id}/accept-relationship",
        {"partnerTenantId": made["tenantId"]},
    )
    transfer = await target.ok(
        "POST",
        f"/v1/customers/{tenant_id}/transfers",
        {"sourcePartnerTenantId": PROVIDER["tenant_id"], "sourcePartnerName": "Contoso",
         "customerEmailId": "admin@legacyco.com"},
        status=201,
    )  # fmt: skip
    error = await pc.fail(
        "PATCH",
        f"/v1/customers/{tenant_id}/transfers/{transfer['id']}",
        {"status": "Complete", "lineItems": [{"subscriptionId": sub["id"], "quantity": 10}]},
        400,
        800002,
    )
    assert "legacy" in error["description"]
    assert (await pc.ok("GET", path(tenant_id, sub)))["status"] == "active"
    listed = await target.ok("GET", f"/v1/customers/{tenant_id}/transfers/{transfer['id']}")
    assert listed["status"] == "Pending"


async def test_an_education_legacy_subscription_still_renews_with_no_windows(
    pc: PartnerClient,
) -> None:
    tenant_id = await existing_tenant(pc)
    edu = await seed(pc, tenant_id, segment="education")
    commercial = await seed(pc, tenant_id)
    events = await pc.advance("P366D")
    kinds = {(e["type"], e["resourceUri"].rsplit("/", 1)[-1]) for e in events}
    assert ("renewalCompleted", edu["id"]) in kinds
    assert ("subscriptionExpired", commercial["id"]) in kinds
    renewed = await pc.ok("GET", path(tenant_id, edu))
    assert (renewed["status"], renewed["commitmentEndDate"]) == ("active", "2028-01-04T00:00:00Z")
    assert "cancellationAllowedUntilDate" not in renewed
