"""Checkout and the purchase rules it enforces: MCA, partner of record, attestation, EU/EFTA
additional resellers, add-on seat caps and sandbox limits.

Every refusal is checked for what a user notices: the HTTP status, Microsoft's code, a
description naming the rule, and that nothing was created (no order, no subscription, the cart
still ``Active`` and usable once the problem is fixed).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.simulator.conftest import (
    BASIC,
    DIRECT,
    PROVIDER,
    RESELLER,
    PartnerClient,
    line,
)

E3 = "CFQ7TTC0LFLX:0001:CFQ7TTC0K8P5"
COPILOT = "CFQ7TTC0MM8R:0002:CFQ7TTC0MM9A"
MULTI_GEO = "CFQ7TTC0LHWQ:0001:CFQ7TTC0MG01"


# -- helpers ---------------------------------------------------------------------------------------


async def mca_customer(
    pc: PartnerClient, domain: str = "contoso.onmicrosoft.com", country: str = "US"
) -> str:
    customer = await pc.new_customer(domain, country)
    await pc.accept_mca(customer["id"])
    return str(customer["id"])


async def new_reseller(
    pc: PartnerClient, *, related: bool = True, mpa_signed: bool = True, name: str = "Reseller"
) -> str:
    """A new indirect reseller (its MPN), related to the default provider unless told not to."""
    body = {"name": name, "kind": "indirect_reseller", "country": "IT", "mpaSigned": mpa_signed}
    made = await pc.sim("POST", "/partners", body, status=201)
    if related:
        await pc.sim(
            "POST",
            f"/partners/{made['tenantId']}/accept-provider-invitation",
            {"providerTenantId": PROVIDER["tenant_id"]},
        )
    return str(made["mpnId"])


async def new_cart(
    pc: PartnerClient,
    customer_id: str,
    lines: list[dict[str, Any]],
    attestation: bool | None = True,
) -> str:
    body: dict[str, Any] = {"lineItems": lines}
    if attestation is not None:
        body["partnerOnRecordAttestationAccepted"] = attestation
    cart = await pc.ok("POST", f"/v1/customers/{customer_id}/carts", body, status=201)
    assert all("error" not in x for x in cart["lineItems"]), cart["lineItems"]
    return str(cart["id"])


async def checkout(pc: PartnerClient, customer_id: str, cart_id: str) -> dict[str, Any]:
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    return dict(await pc.ok("POST", url, status=201))


async def assert_nothing_bought(pc: PartnerClient, customer_id: str, cart_id: str) -> None:
    cart = await pc.ok("GET", f"/v1/customers/{customer_id}/carts/{cart_id}")
    assert cart["status"] == "Active"
    assert (await pc.ok("GET", f"/v1/customers/{customer_id}/orders"))["items"] == []
    assert (await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"] == []


async def refused(
    pc: PartnerClient,
    customer_id: str,
    lines: list[dict[str, Any]],
    status: int,
    code: int,
    attestation: bool | None = True,
) -> dict[str, Any]:
    """A cart that is created fine but whose checkout is refused; asserts nothing was bought."""
    cart_id = await new_cart(pc, customer_id, lines, attestation)
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    error = await pc.fail("POST", url, None, status, code)
    await assert_nothing_bought(pc, customer_id, cart_id)
    return error


async def subscription(pc: PartnerClient, customer_id: str, result: dict[str, Any]) -> Any:
    sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    return await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{sub_id}")


# -- checkout ----------------------------------------------------------------------------------------


async def test_checkout_answers_201_with_a_completed_order_and_marks_the_cart_ordered(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line(quantity=3)])
    result = await checkout(pc, customer_id, cart_id)
    assert set(result) >= {"orders", "orderErrors"}
    assert result["orderErrors"] == []
    (order,) = result["orders"]
    assert re.fullmatch(r"[0-9a-f]{12}", order["id"])
    assert order["alternateId"] == order["id"]
    assert order["status"] == "completed"
    assert order["referenceCustomerId"] == customer_id
    assert order["attributes"] == {"objectType": "Order"}
    (item,) = order["lineItems"]
    assert (item["offerId"], item["quantity"], item["termDuration"]) == (BASIC, 3, "P1Y")
    sub = await subscription(pc, customer_id, result)
    assert sub["id"] == item["subscriptionId"]
    assert sub["orderId"] == order["id"]
    assert sub["status"] == "active"
    cart = await pc.ok("GET", f"/v1/customers/{customer_id}/carts/{cart_id}")
    assert cart["status"] == "Ordered"


async def test_second_checkout_of_the_same_cart_is_800065_and_orders_nothing_more(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line()])
    await checkout(pc, customer_id, cart_id)
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    error = await pc.fail("POST", url, None, 400, 800065)
    assert cart_id in error["description"]
    assert len((await pc.ok("GET", f"/v1/customers/{customer_id}/orders"))["items"]) == 1
    assert len((await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"]) == 1


async def test_lines_with_different_billing_cycles_become_separate_orders(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line(cycle="monthly"), line(E3, cycle="annual")])
    result = await checkout(pc, customer_id, cart_id)
    assert sorted(o["billingCycle"] for o in result["orders"]) == ["annual", "monthly"]
    subs = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    assert len(subs["items"]) == 2


async def test_checkout_without_mca_is_403_13605_and_creates_nothing(pc: PartnerClient) -> None:
    customer = await pc.new_customer("nomca.onmicrosoft.com")
    customer_id = customer["id"]
    cart_id = await new_cart(pc, customer_id, [line()])
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    error = await pc.fail("POST", url, None, 403, 13605)
    assert "Microsoft Customer Agreement" in error["description"]
    await assert_nothing_bought(pc, customer_id, cart_id)
    await pc.accept_mca(customer_id)  # fixing the cause makes the same cart go through
    assert (await checkout(pc, customer_id, cart_id))["orders"][0]["status"] == "completed"


# -- partner of record ---------------------------------------------------------------------------


async def test_unknown_reseller_mpn_is_404_800015(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    error = await refused(pc, customer_id, [line(reseller="9999999")], 404, 800015)
    assert "9999999" in error["description"]


async def test_the_providers_own_mpn_as_reseller_is_404_2072(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await refused(pc, customer_id, [line(reseller=PROVIDER["mpn_id"])], 404, 2072)


async def test_a_direct_partners_mpn_as_reseller_is_400_800016(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await refused(pc, customer_id, [line(reseller=DIRECT["mpn_id"])], 400, 800016)


async def test_a_reseller_not_related_to_this_provider_is_400_800016(pc: PartnerClient) -> None:
    stranger = await new_reseller(pc, related=False)
    customer_id = await mca_customer(pc)
    error = await refused(pc, customer_id, [line(reseller=stranger)], 400, 800016)
    assert stranger in error["description"]


async def test_a_related_reseller_without_a_signed_mpa_is_403_900123(pc: PartnerClient) -> None:
    unsigned = await new_reseller(pc, mpa_signed=False)
    customer_id = await mca_customer(pc)
    await refused(pc, customer_id, [line(reseller=unsigned)], 403, 900123)


async def test_a_newly_related_reseller_becomes_the_subscriptions_partner_id(
    pc: PartnerClient,
) -> None:
    reseller = await new_reseller(pc)
    customer_id = await mca_customer(pc)
    result = await checkout(
        pc, customer_id, await new_cart(pc, customer_id, [line(reseller=reseller)])
    )
    assert result["orders"][0]["lineItems"][0]["partnerIdOnRecord"] == reseller
    assert (await subscription(pc, customer_id, result))["partnerId"] == reseller


async def test_a_line_without_a_reseller_gives_an_empty_partner_id(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    result = await checkout(pc, customer_id, await new_cart(pc, customer_id, [line(reseller=None)]))
    assert (await subscription(pc, customer_id, result))["partnerId"] == ""


# -- attestation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("attestation", [False, None], ids=["false", "omitted"])
async def test_a_reseller_line_without_attestation_is_400_900206(
    pc: PartnerClient, attestation: bool | None
) -> None:
    customer_id = await mca_customer(pc)
    await refused(pc, customer_id, [line()], 400, 900206, attestation=attestation)


async def test_a_cart_put_without_attestation_drops_it_and_checkout_is_900206(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line()])
    url = f"/v1/customers/{customer_id}/carts/{cart_id}"
    put = await pc.ok("PUT", url, {"lineItems": [line(quantity=2)]}, status=201)
    assert put["partnerOnRecordAttestationAccepted"] is not True
    await pc.fail("POST", f"{url}/checkout", None, 400, 900206)
    await assert_nothing_bought(pc, customer_id, cart_id)


async def test_a_direct_partners_purchase_never_needs_attestation(
    direct_pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(direct_pc)
    cart_id = await new_cart(direct_pc, customer_id, [line(reseller=None)], attestation=None)
    result = await checkout(direct_pc, customer_id, cart_id)
    assert result["orders"][0]["status"] == "completed"
    assert (await subscription(direct_pc, customer_id, result))["partnerId"] == ""


async def test_a_provider_purchase_naming_no_reseller_needs_no_attestation(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line(reseller=None)], attestation=False)
    assert (await checkout(pc, customer_id, cart_id))["orders"][0]["status"] == "completed"


# -- EU/EFTA additional resellers ------------------------------------------------------------------


async def resellers(pc: PartnerClient, count: int) -> list[str]:
    return [await new_reseller(pc, name=f"Reseller {i}") for i in range(count)]


async def test_an_eu_customer_may_have_five_additional_resellers_on_record(
    pc: PartnerClient,
) -> None:
    extra = await resellers(pc, 5)
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    cart_id = await new_cart(pc, customer_id, [line(additional=tuple(extra))])
    result = await checkout(pc, customer_id, cart_id)
    item = result["orders"][0]["lineItems"][0]
    assert item["partnerIdOnRecord"] == RESELLER["mpn_id"]
    assert item["additionalPartnerIdsOnRecord"] == extra
    sub = await subscription(pc, customer_id, result)
    assert sub["partnerId"] == RESELLER["mpn_id"]
    assert sub["additionalPartnerIdsOnRecord"] == extra


async def test_six_additional_resellers_are_400_800002_naming_the_limit(pc: PartnerClient) -> None:
    extra = await resellers(pc, 6)
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    error = await refused(pc, customer_id, [line(additional=tuple(extra))], 400, 800002)
    assert "at most 5 additional resellers" in error["description"]


async def test_additional_resellers_for_a_us_customer_are_400_800002(pc: PartnerClient) -> None:
    (extra,) = await resellers(pc, 1)
    customer_id = await mca_customer(pc, "smith.onmicrosoft.com", "US")
    error = await refused(pc, customer_id, [line(additional=(extra,))], 400, 800002)
    assert "EU/EFTA" in error["description"]


async def test_additional_resellers_without_a_primary_reseller_are_400_800002(
    pc: PartnerClient,
) -> None:
    (extra,) = await resellers(pc, 1)
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    lines = [line(reseller=None, additional=(extra,))]
    error = await refused(pc, customer_id, lines, 400, 800002)
    assert "primary transaction_reseller" in error["description"]


async def test_the_provider_as_an_additional_reseller_is_400_800002(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    lines = [line(additional=(PROVIDER["mpn_id"],))]
    error = await refused(pc, customer_id, lines, 400, 800002)
    assert PROVIDER["mpn_id"] in error["description"]
    assert "indirect provider" in error["description"]


@pytest.mark.parametrize(
    ("related", "mpa_signed", "words"),
    [
        (False, True, "isn't a valid indirect reseller"),
        (True, False, "Microsoft Partner Agreement"),
    ],
    ids=["not-related", "mpa-unsigned"],
)
async def test_an_invalid_additional_reseller_is_400_800002_naming_it(
    pc: PartnerClient, related: bool, mpa_signed: bool, words: str
) -> None:
    bad = await new_reseller(pc, related=related, mpa_signed=mpa_signed)
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    error = await refused(pc, customer_id, [line(additional=(bad,))], 400, 800002)
    assert bad in error["description"]
    assert words in error["description"]


async def test_an_unknown_additional_reseller_is_400_800002(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    error = await refused(pc, customer_id, [line(additional=("8888888",))], 400, 800002)
    assert "8888888" in error["description"]


# -- add-ons -----------------------------------------------------------------------------------------


async def shared_customer(pc: PartnerClient, direct_pc: PartnerClient) -> str:
    """An existing tenant that accepted both the provider and the direct partner, with MCA."""
    tenant = await pc.sim(
        "POST",
        "/tenants",
        {"domain": "shared.onmicrosoft.com", "companyName": "Shared Ltd", "country": "US"},
        status=201,
    )
    customer_id = str(tenant["tenantId"])
    for partner in (PROVIDER, DIRECT):
        await pc.sim(
            "POST",
            f"/tenants/{customer_id}/accept-relationship",
            {"partnerTenantId": partner["tenant_id"]},
        )
    await pc.accept_mca(customer_id)
    return customer_id


async def test_copilot_may_use_base_seats_bought_through_another_partner(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id = await shared_customer(pc, direct_pc)
    await direct_pc.buy(customer_id, [line(quantity=10, reseller=None)])
    result = await pc.buy(customer_id, [line(COPILOT, quantity=10)])
    assert result["orders"][0]["lineItems"][0]["offerId"] == COPILOT


async def test_copilot_seats_above_the_base_seats_of_all_partners_are_400_800002(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id = await shared_customer(pc, direct_pc)
    await direct_pc.buy(customer_id, [line(quantity=10, reseller=None)])
    await pc.buy(customer_id, [line(COPILOT, quantity=6)])
    cart_id = await new_cart(pc, customer_id, [line(COPILOT, quantity=5)])  # 6 + 5 > 10
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    error = await pc.fail("POST", url, None, 400, 800002)
    assert "eligible base seats (10)" in error["description"]
    assert "(11)" in error["description"]
    subs = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    assert [s["quantity"] for s in subs["items"]] == [6]


async def test_copilot_counts_base_seats_bought_in_the_same_cart(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    result = await pc.buy(customer_id, [line(quantity=3), line(COPILOT, quantity=3)])
    offers = sorted(x["offerId"] for o in result["orders"] for x in o["lineItems"])
    assert offers == sorted([BASIC, COPILOT])


async def test_copilot_above_the_base_seats_in_the_same_cart_is_refused_whole(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    lines = [line(quantity=3), line(COPILOT, quantity=4)]
    error = await refused(pc, customer_id, lines, 400, 800002)
    assert "Microsoft 365 Copilot" in error["description"]


async def test_copilot_without_any_base_seats_is_400_800002(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await refused(pc, customer_id, [line(COPILOT, quantity=1)], 400, 800002)


async def test_multi_geo_needs_at_least_five_percent_of_eligible_base_seats(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    # 81 E3 seats: 5 % is 4.05, so the minimum is ceil(4.05) = 5.
    error = await refused(
        pc, customer_id, [line(E3, quantity=81), line(MULTI_GEO, quantity=4)], 400, 800002
    )
    assert "at least 5 seats" in error["description"]
    result = await pc.buy(customer_id, [line(E3, quantity=81), line(MULTI_GEO, quantity=5)])
    assert len(result["orders"][0]["lineItems"]) == 2


async def test_multi_geo_ignores_base_seats_that_are_not_eligible(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=100)])  # Business Basic is no Multi-Geo base
    await refused_after_purchase(pc, customer_id, [line(MULTI_GEO, quantity=5)])


async def test_multi_geo_counts_the_seats_the_customer_already_has(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(E3, quantity=100), line(MULTI_GEO, quantity=5)])
    await pc.buy(customer_id, [line(E3, quantity=20)])
    # 120 seats need 6 Multi-Geo seats: the 5 held plus 1 more are enough.
    result = await pc.buy(customer_id, [line(MULTI_GEO, quantity=1)])
    assert result["orders"][0]["lineItems"][0]["quantity"] == 1


async def refused_after_purchase(
    pc: PartnerClient, customer_id: str, lines: list[dict[str, Any]]
) -> None:
    """Checkout refused 400 / 800002 for a customer that already holds subscriptions: the
    refused cart stays Active and the subscription count doesn't move."""
    before = len((await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"])
    cart_id = await new_cart(pc, customer_id, lines)
    url = f"/v1/customers/{customer_id}/carts/{cart_id}"
    await pc.fail("POST", f"{url}/checkout", None, 400, 800002)
    assert (await pc.ok("GET", url))["status"] == "Active"
    after = len((await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"])
    assert after == before


# -- sandbox limits ----------------------------------------------------------------------------------


async def test_sandbox_limits_refuse_a_sixth_subscription_for_a_customer_800018(
    pc: PartnerClient,
) -> None:
    await pc.sim("PUT", "/config", {"sandboxLimits": True})
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=1) for _ in range(5)])
    cart_id = await new_cart(pc, customer_id, [line(quantity=1)])
    url = f"/v1/customers/{customer_id}/carts/{cart_id}"
    error = await pc.fail("POST", f"{url}/checkout", None, 400, 800018)
    assert "5 subscriptions per customer" in error["description"]
    assert (await pc.ok("GET", url))["status"] == "Active"
    subs = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    assert len(subs["items"]) == 5


async def test_sandbox_limits_refuse_a_cart_of_six_lines_whole(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"sandboxLimits": True})
    customer_id = await mca_customer(pc)
    await refused(pc, customer_id, [line(quantity=1) for _ in range(6)], 400, 800018)


async def test_without_sandbox_limits_a_sixth_subscription_is_fine(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=1) for _ in range(6)])
    subs = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    assert len(subs["items"]) == 6


async def test_sandbox_limits_turned_on_after_the_cart_still_refuse_26_seats(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line(quantity=26)])
    await pc.sim("PUT", "/config", {"sandboxLimits": True})
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    error = await pc.fail("POST", url, None, 400, 800018)
    assert "25 licenses" in error["description"]
    await assert_nothing_bought(pc, customer_id, cart_id)


async def test_copilot_seats_held_through_another_partner_count_toward_the_cap(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id = await shared_customer(pc, direct_pc)
    await direct_pc.buy(
        customer_id, [line(quantity=10, reseller=None), line(COPILOT, quantity=8, reseller=None)]
    )
    await refused_after_purchase(pc, customer_id, [line(COPILOT, quantity=3)])  # 8 + 3 > 10
    result = await pc.buy(customer_id, [line(COPILOT, quantity=2)])
    assert result["orders"][0]["lineItems"][0]["quantity"] == 2


async def test_cancelled_base_seats_are_not_eligible_for_copilot(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    result = await pc.buy(customer_id, [line(quantity=10)])
    sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    url = f"/v1/customers/{customer_id}/subscriptions/{sub_id}"
    await pc.ok("PATCH", url, {"status": "deleted"})
    await refused_after_purchase(pc, customer_id, [line(COPILOT, quantity=1)])


async def test_the_primary_reseller_repeated_as_additional_is_400_800002(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    lines = [line(additional=(RESELLER["mpn_id"],))]
    error = await refused(pc, customer_id, lines, 400, 800002)
    assert "twice" in error["description"]


async def test_a_checkout_retried_with_the_same_request_id_replays_the_first_answer(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart_id = await new_cart(pc, customer_id, [line()])
    url = f"/v1/customers/{customer_id}/carts/{cart_id}/checkout"
    headers = {"MS-RequestId": "7d4c6b8e-1f2a-4b3c-9d8e-0a1b2c3d4e5f"}
    first = await pc.ok("POST", url, status=201, headers=headers)
    again = await pc.ok("POST", url, status=201, headers=headers)
    assert again == first
    assert len((await pc.ok("GET", f"/v1/customers/{customer_id}/orders"))["items"]) == 1


async def test_the_cart_lines_friendly_name_names_the_subscription(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    named = {**line(), "friendlyName": "Sales team"}
    result = await checkout(pc, customer_id, await new_cart(pc, customer_id, [named]))
    assert (await subscription(pc, customer_id, result))["friendlyName"] == "Sales team"
