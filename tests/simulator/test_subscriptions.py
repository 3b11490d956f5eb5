"""Subscription reads and the PATCH rules: windows, seats, status, full-replace, partner of record,
the 1,200-update limit, and refusals that leave the subscription untouched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import BASIC, RESELLER, PartnerClient, line


def path(customer_id: str, sub_id: str = "") -> str:
    base = f"/v1/customers/{customer_id}/subscriptions"
    return f"{base}/{sub_id}" if sub_id else base


async def patch(pc: PartnerClient, customer_id: str, sub: dict[str, Any], **changes: Any) -> Any:
    """A full-replace PATCH as a client writes it: the current subscription with ``changes``."""
    body = {**sub, **changes}
    return await pc.ok("PATCH", path(customer_id, sub["id"]), body)


async def unchanged(pc: PartnerClient, customer_id: str, before: dict[str, Any]) -> None:
    after = await pc.ok("GET", path(customer_id, before["id"]))
    assert after == before


# -- reads ---------------------------------------------------------------------------------------


async def test_get_shows_offer_term_dates_windows_and_ownership(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    assert sub["offerId"] == BASIC
    assert sub["offerName"] == "Microsoft 365 Business Basic"
    assert sub["productType"] == {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"}
    assert sub["unitType"] == "Licenses"
    assert sub["termDuration"] == "P1Y"
    assert sub["billingCycle"] == "monthly"
    assert sub["autoRenewEnabled"] is True
    assert sub["commitmentEndDate"] == "2027-01-04T00:00:00Z"
    assert sub["commitmentEndDateTime"] == "2027-01-04T23:59:59Z"
    assert sub["cancellationAllowedUntilDate"] == "2026-01-12T09:00:00Z"
    assert sub["refundOptions"] == [{"type": "Full", "expiresAt": "2026-01-12T09:00:00Z"}]
    assert sub["partnerId"] == RESELLER["mpn_id"]
    assert sub["attributes"]["objectType"] == "Subscription"
    assert sub["attributes"]["etag"]
    orders = await pc.ok("GET", f"/v1/customers/{customer_id}/orders")
    assert sub["orderId"] == orders["items"][0]["id"]


async def test_a_monthly_term_ends_the_day_before_the_same_date_next_month(
    pc: PartnerClient,
) -> None:
    _, sub = await pc.customer_with_subscription(term="P1M")
    assert sub["commitmentEndDate"] == "2026-02-04T00:00:00Z"
    assert sub["commitmentEndDateTime"] == "2026-02-04T23:59:59Z"


async def test_list_filters_by_order_and_by_reseller_mpn(pc: PartnerClient) -> None:
    customer_id, first = await pc.customer_with_subscription()
    second_order = await pc.buy(customer_id, [line(quantity=2, reseller=None)])
    second_id = second_order["orders"][0]["lineItems"][0]["subscriptionId"]
    everything = await pc.ok("GET", path(customer_id))
    assert {s["id"] for s in everything["items"]} == {first["id"], second_id}
    by_order = await pc.ok("GET", path(customer_id) + f"?order_id={first['orderId']}")
    assert [s["id"] for s in by_order["items"]] == [first["id"]]
    by_mpn = await pc.ok("GET", path(customer_id) + f"?mpn_id={RESELLER['mpn_id']}")
    assert [s["id"] for s in by_mpn["items"]] == [first["id"]]
    nobody = await pc.ok("GET", path(customer_id) + "?mpn_id=9999999")
    assert nobody["items"] == []
    assert nobody["totalCount"] == 0


async def test_unknown_subscription_is_404_20003(pc: PartnerClient) -> None:
    customer_id, _ = await pc.customer_with_subscription()
    missing = "0c353b8e-da9d-4007-d0d4-bca8bd5b5ce1"
    body = await pc.fail("GET", path(customer_id, missing), None, 404, 20003)
    assert missing in body["description"]
    await pc.fail("PATCH", path(customer_id, missing), {"quantity": 6}, 404, 20003)


async def test_another_partners_customer_is_403_20002(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await direct_pc.fail("GET", path(customer_id, sub["id"]), None, 403, 20002)
    await direct_pc.fail("GET", path(customer_id), None, 403, 20002)
    await direct_pc.fail("PATCH", path(customer_id, sub["id"]), {"quantity": 1}, 403, 20002)
    await unchanged(pc, customer_id, sub)


# -- cancel ----------------------------------------------------------------------------------------


async def test_cancel_inside_the_window_deletes_and_answers_the_whole_subscription(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.advance("P6D")
    answer = await patch(pc, customer_id, sub, status="deleted")
    assert answer["id"] == sub["id"]
    assert answer["status"] == "deleted"
    assert answer["offerId"] == BASIC
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["status"] == "deleted"


async def test_cancel_after_168_hours_is_400_900213_and_keeps_it_active(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.advance("PT169H")
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    body = await pc.fail(
        "PATCH", path(customer_id, sub["id"]), {**current, "status": "deleted"}, 400, 900213
    )
    assert body["description"].startswith("You have passed your 168-hour cancellation window")
    await unchanged(pc, customer_id, current)


async def test_cancel_at_the_last_instant_of_the_window_still_works(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.advance("PT168H")
    assert (await patch(pc, customer_id, sub, status="deleted"))["status"] == "deleted"


async def test_any_patch_on_a_deleted_subscription_is_400_2011(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    deleted = await patch(pc, customer_id, sub, status="deleted")
    for change in ({"status": "active"}, {"quantity": 6}, {"friendlyName": "x"}, {}):
        body = await pc.fail(
            "PATCH", path(customer_id, sub["id"]), {**deleted, **change}, 400, 2011
        )
        assert sub["id"] in body["description"]
    await unchanged(pc, customer_id, deleted)


# -- seats -------------------------------------------------------------------------------------------


async def test_an_increase_adds_a_refundable_batch_with_its_own_window(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.advance("P2D")
    answer = await patch(pc, customer_id, sub, quantity=8)
    assert answer["quantity"] == 8
    assert answer["refundableQuantity"] == {
        "totalQuantity": 8,
        "details": [
            {"quantity": 5, "allowedUntilDateTime": "2026-01-12T09:00:00Z"},
            {"quantity": 3, "allowedUntilDateTime": "2026-01-14T09:00:00Z"},
        ],
    }
    await pc.advance("P6D")  # the first batch's window has closed, the second's has not
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    assert current["refundableQuantity"] == {
        "totalQuantity": 3,
        "details": [{"quantity": 3, "allowedUntilDateTime": "2026-01-14T09:00:00Z"}],
    }


async def test_reduction_stops_at_the_seats_outside_their_window_900214(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.advance("P8D")
    grown = await patch(pc, customer_id, sub, quantity=8)
    assert grown["refundableQuantity"]["totalQuantity"] == 3
    reduced = await patch(pc, customer_id, grown, quantity=5)
    assert reduced["quantity"] == 5
    assert reduced["refundableQuantity"]["totalQuantity"] == 0
    body = await pc.fail(
        "PATCH", path(customer_id, sub["id"]), {**reduced, "quantity": 4}, 400, 900214
    )
    assert "168-hour window for reducing seats" in body["description"]
    await unchanged(pc, customer_id, reduced)


async def test_reduction_inside_the_window_takes_the_newest_seats_first(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.advance("P1D")
    grown = await patch(pc, customer_id, sub, quantity=8)
    reduced = await patch(pc, customer_id, grown, quantity=4)
    assert reduced["refundableQuantity"]["details"] == [
        {"quantity": 4, "allowedUntilDateTime": "2026-01-12T09:00:00Z"}
    ]


async def test_quantity_outside_the_sku_range_is_400_2002(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.fail("PATCH", path(customer_id, sub["id"]), {**sub, "quantity": 0}, 400, 2002)
    await pc.fail("PATCH", path(customer_id, sub["id"]), {**sub, "quantity": 301}, 400, 2002)
    await unchanged(pc, customer_id, sub)


# -- suspend and reactivate ------------------------------------------------------------------------


async def test_suspend_turns_auto_renew_off_and_blocks_quantity_800091(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    suspended = await patch(pc, customer_id, sub, status="suspended")
    assert suspended["status"] == "suspended"
    assert suspended["autoRenewEnabled"] is False
    await pc.fail("PATCH", path(customer_id, sub["id"]), {**suspended, "quantity": 6}, 400, 800091)
    await unchanged(pc, customer_id, suspended)


async def test_reactivate_brings_a_suspended_subscription_back(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    suspended = await patch(pc, customer_id, sub, status="suspended")
    active = await patch(pc, customer_id, suspended, status="active")
    assert active["status"] == "active"
    assert active["autoRenewEnabled"] is False  # not restored by reactivation
    again = await patch(pc, customer_id, active, quantity=7)
    assert again["quantity"] == 7


async def test_a_suspended_subscription_can_still_be_cancelled_inside_the_window(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    suspended = await patch(pc, customer_id, sub, status="suspended")
    assert (await patch(pc, customer_id, suspended, status="deleted"))["status"] == "deleted"


@pytest.mark.parametrize("status", ["expired", "disabled", "foo"])
async def test_an_impossible_status_is_400_800040(pc: PartnerClient, status: str) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    body = await pc.fail(
        "PATCH", path(customer_id, sub["id"]), {**sub, "status": status}, 400, 800040
    )
    assert status in body["description"]
    await unchanged(pc, customer_id, sub)


# -- full replace, name, partner of record -------------------------------------------------------


async def test_a_patch_that_omits_auto_renew_turns_it_off(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    answer = await pc.ok("PATCH", path(customer_id, sub["id"]), {"friendlyName": "Sales"})
    assert answer["friendlyName"] == "Sales"
    assert answer["autoRenewEnabled"] is False
    assert answer["quantity"] == 5
    assert answer["partnerId"] == RESELLER["mpn_id"]
    back = await patch(pc, customer_id, answer, autoRenewEnabled=True)
    assert back["autoRenewEnabled"] is True


async def test_friendly_name_change_is_kept(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await patch(pc, customer_id, sub, friendlyName="Head office")
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["friendlyName"] == "Head office"


async def new_reseller(pc: PartnerClient, provider_tenant_id: str, name: str) -> dict[str, Any]:
    reseller = await pc.sim(
        "POST", "/partners", {"name": name, "kind": "indirect_reseller", "country": "IT"}, 201
    )
    await pc.sim(
        "POST",
        f"/partners/{reseller['tenantId']}/accept-provider-invitation",
        {"providerTenantId": provider_tenant_id},
    )
    return dict(reseller)


async def test_partner_of_record_changes_to_another_valid_reseller(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    other = await new_reseller(pc, pc.tenant_id, "Tailspin Resellers")
    answer = await patch(pc, customer_id, sub, partnerId=other["mpnId"])
    assert answer["partnerId"] == other["mpnId"]
    listed = await pc.ok("GET", path(customer_id) + f"?mpn_id={other['mpnId']}")
    assert [s["id"] for s in listed["items"]] == [sub["id"]]


async def test_partner_of_record_unknown_mpn_is_404_800015(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    body = await pc.fail(
        "PATCH", path(customer_id, sub["id"]), {**sub, "partnerId": "9999999"}, 404, 800015
    )
    assert "9999999" in body["description"]
    await unchanged(pc, customer_id, sub)


async def test_partner_of_record_cannot_be_the_provider_2072(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.fail("PATCH", path(customer_id, sub["id"]), {**sub, "partnerId": "1000001"}, 404, 2072)
    await unchanged(pc, customer_id, sub)


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": "six"},
        {"quantity": "6"},
        {"quantity": 6.5},
        {"quantity": -1},
        {"autoRenewEnabled": "yes"},
        {"autoRenewEnabled": 1},
        {"friendlyName": 12},
        {"status": 5},
        {"partnerId": 7},
    ],
)
async def test_wrong_types_are_400_naming_the_field_and_change_nothing(
    pc: PartnerClient, change: dict[str, Any]
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    body = await pc.fail("PATCH", path(customer_id, sub["id"]), {**sub, **change}, 400, 800002)
    assert next(iter(change)).lower() in body["description"].lower()
    await unchanged(pc, customer_id, sub)


async def test_a_body_that_is_not_an_object_is_400(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.fail("PATCH", path(customer_id, sub["id"]), [sub], 400, 800002)
    resp = await pc.call("PATCH", path(customer_id, sub["id"]), None)
    assert resp.status == 400
    await unchanged(pc, customer_id, sub)


# -- the update limit ------------------------------------------------------------------------------


async def test_the_1201st_changing_patch_is_400_900311(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"rateLimitPerMinute": 0})
    customer_id, sub = await pc.customer_with_subscription()
    url = path(customer_id, sub["id"])
    for n in range(1200):
        resp = await pc.call("PATCH", url, {"friendlyName": f"n{n % 2}", "autoRenewEnabled": True})
        assert resp.status == 200, await resp.text()
        resp.release()
    current = await pc.ok("GET", url)
    assert current["friendlyName"] == "n1"
    same = await pc.ok("PATCH", url, current)  # changes nothing: still allowed, not counted
    assert same == current
    body = await pc.fail("PATCH", url, {**current, "friendlyName": "n0"}, 400, 900311)
    assert "updated too many times" in body["description"]
    await unchanged(pc, customer_id, current)


async def test_patches_that_change_nothing_do_not_count_toward_the_limit(
    pc: PartnerClient,
) -> None:
    await pc.sim("PUT", "/config", {"maxUpdates": 2})
    customer_id, sub = await pc.customer_with_subscription()
    for _ in range(5):
        assert await patch(pc, customer_id, sub) == sub
    first = await patch(pc, customer_id, sub, friendlyName="a")
    second = await patch(pc, customer_id, first, friendlyName="b")
    await pc.fail(
        "PATCH", path(customer_id, sub["id"]), {**second, "friendlyName": "c"}, 400, 900311
    )
    refused = await pc.call("PATCH", path(customer_id, sub["id"]), {**second, "quantity": 6})
    assert refused.status == 400
    await unchanged(pc, customer_id, second)


async def test_refused_patches_do_not_count_toward_the_limit(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"maxUpdates": 1})
    customer_id, sub = await pc.customer_with_subscription()
    for _ in range(3):
        await pc.fail("PATCH", path(customer_id, sub["id"]), {**sub, "quantity": 0}, 400, 2002)
    assert (await patch(pc, customer_id, sub, quantity=6))["quantity"] == 6
