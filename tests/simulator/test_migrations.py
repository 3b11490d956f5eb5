"""Legacy CSP to new commerce migrations (``…/migrations/newcommerce``): validate, create, read,
with Microsoft's error codes; a migration creates the NCE subscription and ends the legacy one."""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import BASIC, PROVIDER, PartnerClient

LEGACY_OFFER = "91FD106F-4B2C-4938-95AC-F54F74E9A239"


async def legacy_customer(
    pc: PartnerClient, name: str = "Microsoft 365 Business Basic", quantity: int = 7
) -> tuple[str, dict[str, Any]]:
    """A customer with the MCA accepted and one legacy subscription held by the provider."""
    body = {"domain": "legacycorp.onmicrosoft.com", "companyName": "Legacy Corp", "country": "US"}
    tenant_id = str((await pc.sim("POST", "/tenants", body, status=201))["tenantId"])
    await pc.sim("POST", f"/tenants/{tenant_id}/accept-relationship",
                 {"partnerTenantId": PROVIDER["tenant_id"]})  # fmt: skip
    await pc.accept_mca(tenant_id)
    sub = await pc.sim("POST", f"/tenants/{tenant_id}/legacy-subscriptions",
                       {"partnerTenantId": PROVIDER["tenant_id"], "offerId": LEGACY_OFFER,
                        "offerName": name, "quantity": quantity}, status=201)  # fmt: skip
    return tenant_id, dict(sub)


def urls(customer_id: str) -> tuple[str, str]:
    base = f"/v1/customers/{customer_id}/migrations/newcommerce"
    return base, f"{base}/validate"


async def subscriptions(pc: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    return list((await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"])


async def refused(
    pc: PartnerClient, customer_id: str, body: dict[str, Any], status: int, code: int
) -> dict[str, Any]:
    """Create is refused with this code and nothing changes."""
    before = await subscriptions(pc, customer_id)
    error = await pc.fail("POST", urls(customer_id)[0], body, status, code)
    assert await subscriptions(pc, customer_id) == before
    return error


async def test_validate_names_the_new_commerce_offer_of_an_eligible_subscription(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await legacy_customer(pc)
    body = await pc.ok("POST", urls(customer_id)[1], {"currentSubscriptionId": sub["id"]})
    assert body["currentSubscriptionId"] == sub["id"]
    assert (body["isEligible"], body["catalogItemId"]) == (True, BASIC)
    assert "errors" not in body


async def test_a_migration_creates_the_nce_subscription_and_suspends_the_legacy_one(
    pc: PartnerClient,
) -> None:
    customer_id, legacy = await legacy_customer(pc)
    await pc.advance("P30D")
    migration = await pc.ok(
        "POST", urls(customer_id)[0], {"currentSubscriptionId": legacy["id"]}, status=201
    )
    assert migration["status"] == "Completed"
    assert (migration["currentSubscriptionId"], migration["catalogItemId"]) == (legacy["id"], BASIC)
    assert (migration["quantity"], migration["termDuration"]) == (7, "P1Y")
    assert migration["billingCycle"] == "Monthly"
    # Not a full term: the new subscription ends with the legacy term.
    assert migration["subscriptionEndDate"] == legacy["commitmentEndDate"]
    nce_url = f"/v1/customers/{customer_id}/subscriptions/{migration['newCommerceSubscriptionId']}"
    nce = await pc.ok("GET", nce_url)
    assert (nce["offerId"], nce["quantity"], nce["status"]) == (BASIC, 7, "active")
    assert nce["orderId"] == migration["newCommerceOrderId"]
    assert nce["commitmentEndDate"] == legacy["commitmentEndDate"]
    old = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{legacy['id']}")
    assert (old["status"], old["autoRenewEnabled"]) == ("suspended", False)
    read = await pc.ok("GET", f"{urls(customer_id)[0]}/{migration['id']}")
    assert read == migration


async def test_a_full_term_migration_starts_a_new_term(pc: PartnerClient) -> None:
    customer_id, legacy = await legacy_customer(pc)
    await pc.advance("P30D")  # 2026-02-04
    body = {"currentSubscriptionId": legacy["id"], "purchaseFullTerm": True,
            "termDuration": "P1Y", "billingCycle": "Annual", "quantity": 9}  # fmt: skip
    migration = await pc.ok("POST", urls(customer_id)[0], body, status=201)
    assert migration["subscriptionEndDate"] == "2027-02-03T00:00:00Z"
    assert (migration["billingCycle"], migration["quantity"]) == ("Annual", 9)
    nce = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/"
                             f"{migration['newCommerceSubscriptionId']}")  # fmt: skip
    assert (nce["billingCycle"], nce["quantity"]) == ("annual", 9)


async def test_a_migration_waits_for_order_provisioning_and_refuses_a_second_900216(
    pc: PartnerClient,
) -> None:
    await pc.sim("PUT", "/config", {"orderProvisioning": "PT1H"})
    customer_id, legacy = await legacy_customer(pc)
    body = {"currentSubscriptionId": legacy["id"]}
    migration = await pc.ok("POST", urls(customer_id)[0], body, status=201)
    assert migration["status"] == "Processing"
    assert "newCommerceSubscriptionId" not in migration
    check = await pc.ok("POST", urls(customer_id)[1], body)
    assert check["isEligible"] is False
    assert [e["code"] for e in check["errors"]] == [900216]
    await pc.fail("POST", urls(customer_id)[0], body, 400, 900216)
    await pc.advance("PT1H")
    done = await pc.ok("GET", f"{urls(customer_id)[0]}/{migration['id']}")
    assert done["status"] == "Completed"
    assert "completedTime" in done
    old = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{legacy['id']}")
    assert old["status"] == "suspended"


async def test_the_legacy_subscription_is_deleted_90_days_after_its_migration(
    pc: PartnerClient,
) -> None:
    customer_id, legacy = await legacy_customer(pc)
    await pc.ok("POST", urls(customer_id)[0], {"currentSubscriptionId": legacy["id"]}, status=201)
    events = await pc.advance("P90D")
    deleted = [e["resourceUri"] for e in events if e["type"] == "subscriptionDeleted"]
    assert [uri.rsplit("/", 1)[1] for uri in deleted] == [legacy["id"]]
    old = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{legacy['id']}")
    assert old["status"] == "deleted"


async def test_an_offer_without_a_new_commerce_equivalent_is_ineligible_code_5_then_900220(
    pc: PartnerClient,
) -> None:
    customer_id, legacy = await legacy_customer(pc, name="Office 365 Enterprise E3")
    body = {"currentSubscriptionId": legacy["id"]}
    check = await pc.ok("POST", urls(customer_id)[1], body)
    assert check["isEligible"] is False
    [error] = check["errors"]
    assert error["code"] == 5
    assert "equivalent offer is not yet available" in error["description"]
    await refused(pc, customer_id, body, 400, 900220)


async def test_a_suspended_legacy_subscription_is_not_active_900215(pc: PartnerClient) -> None:
    customer_id, legacy = await legacy_customer(pc)
    url = f"/v1/customers/{customer_id}/subscriptions/{legacy['id']}"
    await pc.ok("PATCH", url, {"status": "suspended"})
    body = {"currentSubscriptionId": legacy["id"]}
    check = await pc.ok("POST", urls(customer_id)[1], body)
    assert [e["code"] for e in check["errors"]] == [900215]
    await refused(pc, customer_id, body, 400, 900215)


async def test_an_unknown_subscription_is_900224_for_validate_and_create(
    pc: PartnerClient,
) -> None:
    customer_id, _ = await legacy_customer(pc)
    body = {"currentSubscriptionId": "00000000-0000-4000-8000-000000000000"}
    await pc.fail("POST", urls(customer_id)[1], body, 400, 900224)
    await refused(pc, customer_id, body, 400, 900224)


async def test_an_nce_subscription_has_no_migration_path_900220(pc: PartnerClient) -> None:
    customer_id, _ = await pc.customer_with_subscription()
    [nce] = await subscriptions(pc, customer_id)
    body = {"currentSubscriptionId": nce["id"]}
    check = await pc.ok("POST", urls(customer_id)[1], body)
    assert [e["code"] for e in check["errors"]] == [900220]
    assert "already a New Commerce subscription" in check["errors"][0]["description"]
    await refused(pc, customer_id, body, 400, 900220)


async def test_a_subscription_in_its_last_24_hours_cannot_migrate_900217(
    pc: PartnerClient,
) -> None:
    customer_id, legacy = await legacy_customer(pc)
    # The term ends 2027-01-04 (inclusive): at 2027-01-04T01:00Z 23 hours remain.
    await pc.advance("P363DT16H")
    body = {"currentSubscriptionId": legacy["id"]}
    check = await pc.ok("POST", urls(customer_id)[1], body)
    assert [e["code"] for e in check["errors"]] == [900217]
    await refused(pc, customer_id, body, 400, 900217)


async def test_a_term_and_billing_the_offer_does_not_sell_is_900222(pc: PartnerClient) -> None:
    customer_id, legacy = await legacy_customer(pc)
    body = {"currentSubscriptionId": legacy["id"], "termDuration": "P3Y", "billingCycle": "Annual"}
    error = await refused(pc, customer_id, body, 400, 900222)
    assert "P3Y/annual" in error["description"]
    old = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{legacy['id']}")
    assert old["status"] == "active"


async def test_naming_an_add_on_to_migrate_is_900262(pc: PartnerClient) -> None:
    customer_id, legacy = await legacy_customer(pc)
    body = {"currentSubscriptionId": legacy["id"],
            "addOnMigrations": [{"currentSubscriptionId": "not-an-add-on"}]}  # fmt: skip
    await refused(pc, customer_id, body, 400, 900262)


async def test_a_custom_term_end_date_must_be_a_month_end_or_an_nce_end_date_900291(
    pc: PartnerClient,
) -> None:
    customer_id, legacy = await legacy_customer(pc)
    body = {"currentSubscriptionId": legacy["id"], "customTermEndDate": "2026-06-15"}
    await refused(pc, customer_id, body, 400, 900291)
    body["customTermEndDate"] = "2026-06-30"
    migration = await pc.ok("POST", urls(customer_id)[0], body, status=201)
    assert migration["subscriptionEndDate"] == "2026-06-30T00:00:00Z"


async def test_a_quantity_outside_the_offer_range_is_400_800002(pc: PartnerClient) -> None:
    customer_id, legacy = await legacy_customer(pc)
    body = {"currentSubscriptionId": legacy["id"], "quantity": 301}
    error = await refused(pc, customer_id, body, 400, 800002)
    assert "quantity 301" in error["description"]


async def test_an_unknown_migration_is_404(pc: PartnerClient) -> None:
    customer_id, _ = await legacy_customer(pc)
    await pc.fail("GET", f"{urls(customer_id)[0]}/nope", None, 404, 1000)


async def test_another_partner_cannot_see_the_migration(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id, legacy = await legacy_customer(pc)
    migration = await pc.ok(
        "POST", urls(customer_id)[0], {"currentSubscriptionId": legacy["id"]}, status=201
    )
    await pc.sim("POST", f"/tenants/{customer_id}/accept-relationship",
                 {"partnerTenantId": "4c2b1f3e-7d6a-4e5b-9c8d-000000000003"})  # fmt: skip
    await direct_pc.fail("GET", f"{urls(customer_id)[0]}/{migration['id']}", None, 404, 1000)
    body = {"currentSubscriptionId": legacy["id"]}
    await direct_pc.fail("POST", urls(customer_id)[1], body, 400, 900224)
