"""Carts over HTTP: creation, reads, updates, embedded line errors, expiry and who may see a cart.

Cart creation checks only shape, catalog ids, terms and quantities (line errors inside the 201);
the purchase rules run at checkout (``test_checkout_rules.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import BASIC, RESELLER, PartnerClient, line

E3 = "CFQ7TTC0LFLX:0001:CFQ7TTC0K8P5"
NOT_AN_ITEM = "CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ"


async def mca_customer(pc: PartnerClient, domain: str = "contoso.onmicrosoft.com") -> str:
    customer = await pc.new_customer(domain)
    await pc.accept_mca(customer["id"])
    return str(customer["id"])


async def new_cart(
    pc: PartnerClient, customer_id: str, lines: list[dict[str, Any]], attestation: bool = True
) -> dict[str, Any]:
    body = {"lineItems": lines, "partnerOnRecordAttestationAccepted": attestation}
    return dict(await pc.ok("POST", f"/v1/customers/{customer_id}/carts", body, status=201))


async def orders_of(pc: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    return list((await pc.ok("GET", f"/v1/customers/{customer_id}/orders"))["items"])


async def refused_cart(
    pc: PartnerClient, customer_id: str, body: Any, code: int = 800002
) -> dict[str, Any]:
    """A cart creation refused with 400: the body, after checking that no cart was made (no
    order can follow) — the customer still has no orders."""
    error = await pc.fail("POST", f"/v1/customers/{customer_id}/carts", body, 400, code)
    assert await orders_of(pc, customer_id) == []
    return error


# -- creation and reads ---------------------------------------------------------------------------


async def test_cart_is_created_active_expiring_in_seven_days_with_lines_numbered_from_zero(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=3), line(E3, quantity=2, cycle="annual")])
    assert cart["status"] == "Active"
    assert cart["creationTimestamp"] == "2026-01-05T09:00:00Z"
    assert cart["expirationTimestamp"] == "2026-01-12T09:00:00Z"
    assert cart["attributes"] == {"objectType": "Cart"}
    assert cart["links"]["self"]["uri"] == f"/customers/{customer_id}/carts/{cart['id']}"
    first, second = cart["lineItems"]
    assert [first["id"], second["id"]] == [0, 1]
    assert first["catalogItemId"] == BASIC
    assert (first["quantity"], first["termDuration"], first["billingCycle"]) == (
        3,
        "P1Y",
        "monthly",
    )
    assert first["participants"] == [{"key": "transaction_reseller", "value": RESELLER["mpn_id"]}]
    assert first["orderGroup"] != second["orderGroup"]  # one order per billing cycle
    assert "error" not in first
    assert "error" not in second


async def test_cart_line_pricing_extends_the_unit_price_by_the_quantity(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=4)])
    pricing = cart["lineItems"][0]["pricing"]
    assert set(pricing) >= {
        "listPrice",
        "discountedPrice",
        "proratedPrice",
        "price",
        "extendedPrice",
    }
    assert pricing["price"] > 0
    assert pricing["extendedPrice"] == pytest.approx(pricing["price"] * 4)


async def test_reference_pascal_case_cart_body_is_accepted(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    body = {
        "LineItems": [
            {
                "CatalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
                "Quantity": 1,
                "TermDuration": "P1M",
                "BillingCycle": "Monthly",
            }
        ]
    }
    cart = await pc.ok("POST", f"/v1/customers/{customer_id}/carts", body, status=201)
    item = cart["lineItems"][0]
    assert item["catalogItemId"] == "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS"
    assert (item["termDuration"], item["billingCycle"]) == ("P1M", "monthly")
    assert "error" not in item


async def test_get_cart_returns_what_was_created(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=7)])
    got = await pc.ok("GET", f"/v1/customers/{customer_id}/carts/{cart['id']}")
    assert got == cart


async def test_put_cart_replaces_every_line(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=2), line(E3, quantity=3)])
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}"
    body = {"lineItems": [line(E3, quantity=9)], "partnerOnRecordAttestationAccepted": True}
    put = await pc.ok("PUT", url, body, status=201)
    assert [(x["id"], x["catalogItemId"], x["quantity"]) for x in put["lineItems"]] == [(0, E3, 9)]
    assert (await pc.ok("GET", url))["lineItems"] == put["lineItems"]
    result = await pc.ok("POST", f"{url}/checkout", status=201)
    assert [x["offerId"] for o in result["orders"] for x in o["lineItems"]] == [E3]


async def test_put_cart_with_a_bad_body_keeps_the_old_lines(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=2)])
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}"
    await pc.fail("PUT", url, {"lineItems": [line(quantity=0)]}, 400, 800002)
    assert (await pc.ok("GET", url))["lineItems"] == cart["lineItems"]


async def test_put_on_a_checked_out_cart_is_refused_800065(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line()])
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}"
    await pc.ok("POST", f"{url}/checkout", status=201)
    await pc.fail("PUT", url, {"lineItems": [line(quantity=9)]}, 400, 800065)
    assert (await pc.ok("GET", url))["lineItems"][0]["quantity"] == 5


# -- embedded line errors -------------------------------------------------------------------------


async def checkout_refused(
    pc: PartnerClient, customer_id: str, cart_id: str, code: int
) -> dict[str, Any]:
    """Checkout refused with 400 / code; the cart stays Active and no order exists."""
    url = f"/v1/customers/{customer_id}/carts/{cart_id}"
    error = await pc.fail("POST", f"{url}/checkout", None, 400, code)
    assert (await pc.ok("GET", url))["status"] == "Active"
    assert await orders_of(pc, customer_id) == []
    subs = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    assert subs["items"] == []
    return error


async def test_unknown_catalog_item_is_a_10001_line_error_and_checkout_refuses_800009(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(), line(NOT_AN_ITEM)])
    assert "error" not in cart["lineItems"][0]
    assert cart["lineItems"][1]["error"]["errorCode"] == 10001
    await checkout_refused(pc, customer_id, cart["id"], 800009)


async def test_unknown_catalog_item_with_a_huge_quantity_is_still_800009(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(NOT_AN_ITEM, quantity=5000)])
    assert cart["lineItems"][0]["error"]["errorCode"] == 10001
    await checkout_refused(pc, customer_id, cart["id"], 800009)


async def test_term_and_cycle_not_offered_is_a_10001_line_error(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    # Business Basic has no three-year term.
    cart = await new_cart(pc, customer_id, [line(term="P3Y", cycle="annual")])
    error = cart["lineItems"][0]["error"]
    assert error["errorCode"] == 10001
    assert "P3Y" in error["errorDescription"]
    await checkout_refused(pc, customer_id, cart["id"], 800009)


async def test_quantity_above_the_maximum_is_a_10015_line_error_and_checkout_refuses_900275(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=301)])  # Business Basic: 1 to 300
    assert cart["lineItems"][0]["error"]["errorCode"] == 10015
    await checkout_refused(pc, customer_id, cart["id"], 900275)


async def test_participants_from_a_direct_partner_are_a_10004_line_error(
    direct_pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(direct_pc)
    cart = await new_cart(direct_pc, customer_id, [line(reseller=RESELLER["mpn_id"])])
    assert cart["lineItems"][0]["error"]["errorCode"] == 10004
    await checkout_refused(direct_pc, customer_id, cart["id"], 800009)


async def test_sandbox_limits_make_26_seats_a_10009_line_error(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"sandboxLimits": True})
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=26), line(quantity=25)])
    assert cart["lineItems"][0]["error"]["errorCode"] == 10009
    assert "error" not in cart["lineItems"][1]
    await checkout_refused(pc, customer_id, cart["id"], 800009)


async def test_without_sandbox_limits_26_seats_are_fine(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line(quantity=26)])
    assert "error" not in cart["lineItems"][0]


# -- refusals at creation (400, nothing created) ----------------------------------------------


async def test_billing_cycle_longer_than_the_term_is_900270(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    error = await refused_cart(
        pc, customer_id, {"lineItems": [line(term="P1M", cycle="annual")]}, 900270
    )
    assert "billing cycle" in error["description"].lower()


async def test_invalid_billing_cycle_is_a_400_naming_the_field(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    error = await refused_cart(pc, customer_id, {"lineItems": [line(cycle="fortnightly")]}, 900269)
    assert "billingCycle" in error["description"]


async def test_invalid_term_is_a_400_naming_the_field(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    error = await refused_cart(pc, customer_id, {"lineItems": [line(term="P2Y")]}, 800121)
    assert "termDuration" in error["description"]


async def test_unknown_participant_key_is_a_400_naming_it(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    bad = line()
    bad["participants"] = [{"key": "best_friend", "value": RESELLER["mpn_id"]}]
    error = await refused_cart(pc, customer_id, {"lineItems": [bad]})
    assert "best_friend" in error["description"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "lineitems"),
        ({"lineItems": []}, "lineitems"),
        ({"lineItems": [line(quantity=0)]}, "quantity"),
        ({"lineItems": [{**line(), "quantity": "five"}]}, "quantity"),
        (
            {"lineItems": [{k: v for k, v in line().items() if k != "catalogItemId"}]},
            "catalogitemid",
        ),
        ({"lineItems": [{**line(), "billingCycle": 12}]}, "billingcycle"),
        ({"lineItems": "all of them"}, "lineitems"),
        ({"lineItems": [line()], "partnerOnRecordAttestationAccepted": "perhaps"}, "attestation"),
    ],
    ids=[
        "missing-lines",
        "no-lines",
        "quantity-0",
        "quantity-text",
        "no-catalog-item",
        "cycle-number",
        "lines-text",
        "attestation-text",
    ],
)
async def test_malformed_cart_is_a_400_naming_the_field(
    pc: PartnerClient, body: dict[str, Any], field: str
) -> None:
    customer_id = await mca_customer(pc)
    error = await refused_cart(pc, customer_id, body)
    assert field in error["description"].lower()


async def test_a_body_that_is_not_json_is_a_400(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    resp = await pc.http.post(
        f"/v1/customers/{customer_id}/carts",
        data=b"{not json",
        headers={"Authorization": f"Bearer {pc.token}", "Content-Type": "application/json"},
    )
    body = await resp.json()
    assert (resp.status, body["code"]) == (400, 800002)


# -- unknown, expired and foreign carts -------------------------------------------------------


async def test_unknown_cart_is_404_800008(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    missing = "0f0f0f0f-0000-4000-8000-000000000000"
    url = f"/v1/customers/{customer_id}/carts/{missing}"
    await pc.fail("GET", url, None, 404, 800008)
    await pc.fail("PUT", url, {"lineItems": [line()]}, 404, 800008)
    await pc.fail("POST", f"{url}/checkout", None, 404, 800008)


async def test_cart_of_another_customer_is_404_800008(pc: PartnerClient) -> None:
    first = await mca_customer(pc, "first.onmicrosoft.com")
    second = await mca_customer(pc, "second.onmicrosoft.com")
    cart = await new_cart(pc, first, [line()])
    await pc.fail("POST", f"/v1/customers/{second}/carts/{cart['id']}/checkout", None, 404, 800008)
    assert await orders_of(pc, second) == []


async def test_cart_expires_after_seven_days_and_checkout_is_404_800008(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line()])
    await pc.advance("P8D")
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}"
    await pc.fail("POST", f"{url}/checkout", None, 404, 800008)
    await pc.fail("GET", url, None, 404, 800008)
    assert await orders_of(pc, customer_id) == []


async def test_an_unused_cart_reports_cart_expired_seven_days_after_creation(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    unused = await new_cart(pc, customer_id, [line()])
    bought = await new_cart(pc, customer_id, [line()])
    await pc.ok("POST", f"/v1/customers/{customer_id}/carts/{bought['id']}/checkout", status=201)
    events = [e for e in await pc.advance("P7D") if e["type"] == "cartExpired"]
    uri = f"/customers/{customer_id}/carts/{unused['id']}"
    assert events == [{"type": "cartExpired", "at": "2026-01-12T09:00:00Z", "resourceUri": uri}]
    await pc.fail("GET", f"/v1{uri}", None, 404, 800008)


async def test_cart_is_still_usable_just_before_it_expires(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line()])
    await pc.advance("P6DT23H")
    result = await pc.ok(
        "POST", f"/v1/customers/{customer_id}/carts/{cart['id']}/checkout", status=201
    )
    assert result["orders"][0]["status"] == "completed"


async def test_another_partners_customer_is_403_20002(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id = await mca_customer(pc)
    cart = await new_cart(pc, customer_id, [line()])
    body = {"lineItems": [line(reseller=None)]}
    await direct_pc.fail("POST", f"/v1/customers/{customer_id}/carts", body, 403, 20002)
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}"
    await direct_pc.fail("GET", url, None, 403, 20002)
    await direct_pc.fail("POST", f"{url}/checkout", None, 403, 20002)
    assert (await pc.ok("GET", url))["status"] == "Active"


async def test_direct_partner_cart_without_participants_has_no_line_error(
    direct_pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(direct_pc)
    cart = await new_cart(direct_pc, customer_id, [line(reseller=None)], attestation=False)
    assert "error" not in cart["lineItems"][0]
    assert cart["lineItems"][0]["participants"] == []


async def test_perpetual_software_line_needs_no_term(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    software = "DG7GMGF0D5RK:0002:DG7GMGF0PWSS"
    cart = await new_cart(
        pc, customer_id, [line(software, quantity=2, term=None, cycle="one_time")]
    )
    item = cart["lineItems"][0]
    assert "error" not in item
    assert (item["termDuration"], item["billingCycle"]) == (None, "one_time")
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}/checkout"
    result = await pc.ok("POST", url, status=201)
    assert result["orders"][0]["status"] == "completed"


async def test_quantity_below_the_minimum_is_a_line_error_and_checkout_refuses_900275(
    pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(pc)
    trial = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"  # sold as exactly 25 seats
    cart = await new_cart(pc, customer_id, [line(trial, quantity=1, term="P1M", cycle="none")])
    assert cart["lineItems"][0]["error"]["errorCode"] == 10010
    await checkout_refused(pc, customer_id, cart["id"], 900275)
