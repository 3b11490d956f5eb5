"""Orders over HTTP: pending → completed on the simulated clock, reads, provisioning status, and a
direct ``POST …/orders`` (no cart) under the same purchase rules as a checkout."""

from __future__ import annotations

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


async def mca_customer(
    pc: PartnerClient, domain: str = "contoso.onmicrosoft.com", country: str = "US"
) -> str:
    customer = await pc.new_customer(domain, country)
    await pc.accept_mca(customer["id"])
    return str(customer["id"])


async def subscriptions(pc: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    return list((await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions"))["items"])


async def orders(pc: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    return list((await pc.ok("GET", f"/v1/customers/{customer_id}/orders"))["items"])


# -- pending orders ----------------------------------------------------------------------------


async def pending_purchase(pc: PartnerClient) -> tuple[str, dict[str, Any]]:
    """A customer whose purchase is still provisioning (orderProvisioning PT1H)."""
    await pc.sim("PUT", "/config", {"orderProvisioning": "PT1H"})
    customer_id = await mca_customer(pc)
    result = await pc.buy(customer_id, [line(quantity=4)])
    return customer_id, result["orders"][0]


async def test_with_order_provisioning_checkout_shows_a_pending_order_without_subscription(
    pc: PartnerClient,
) -> None:
    customer_id, order = await pending_purchase(pc)
    assert order["status"] == "pending"
    assert "subscriptionId" not in order["lineItems"][0]
    assert await subscriptions(pc, customer_id) == []
    got = await pc.ok("GET", f"/v1/customers/{customer_id}/orders/{order['id']}")
    assert got["status"] == "pending"
    assert "subscriptionId" not in got["lineItems"][0]


async def test_a_pending_order_is_still_pending_just_before_provisioning_ends(
    pc: PartnerClient,
) -> None:
    customer_id, order = await pending_purchase(pc)
    assert await pc.advance("PT59M") == []
    got = await pc.ok("GET", f"/v1/customers/{customer_id}/orders/{order['id']}")
    assert got["status"] == "pending"
    assert await subscriptions(pc, customer_id) == []


async def test_pending_order_completes_when_provisioning_time_passes(pc: PartnerClient) -> None:
    customer_id, order = await pending_purchase(pc)
    events = await pc.advance("PT1H")
    uri = f"/customers/{customer_id}/orders/{order['id']}"
    assert {"type": "orderCompleted", "at": "2026-01-05T10:00:00Z", "resourceUri": uri} in events
    got = await pc.ok("GET", f"/v1/customers/{customer_id}/orders/{order['id']}")
    assert got["status"] == "completed"
    sub_id = got["lineItems"][0]["subscriptionId"]
    (sub,) = await subscriptions(pc, customer_id)
    assert sub["id"] == sub_id
    assert sub["orderId"] == order["id"]
    assert sub["creationDate"] == "2026-01-05T10:00:00Z"
    assert sub["cancellationAllowedUntilDate"] == "2026-01-12T10:00:00Z"


async def test_provisioning_status_goes_from_prefulfillment_pending_to_fulfilled(
    pc: PartnerClient,
) -> None:
    customer_id, order = await pending_purchase(pc)
    url = f"/v1/customers/{customer_id}/orders/{order['id']}/provisioningstatus"
    before = await pc.ok("GET", url)
    assert before["attributes"] == {"objectType": "Collection"}
    (item,) = before["items"]
    assert (item["lineItemNumber"], item["status"]) == (0, "PrefulfillmentPending")
    assert item["quantityProvisioningInformation"] == [
        {"quantity": 4, "status": "PrefulfillmentPending"}
    ]
    await pc.advance("PT1H")
    (item,) = (await pc.ok("GET", url))["items"]
    assert item["status"] == "fulfilled"
    assert item["quantityProvisioningInformation"] == [{"quantity": 4, "status": "fulfilled"}]


async def test_a_pending_orders_subscription_is_not_found_by_id_until_completed(
    pc: PartnerClient,
) -> None:
    # Ids are seeded, so the same calls after a reset give the same ids: learn the subscription
    # id from a completed run, then ask for it while the replayed order is still pending.
    customer_id, order = await pending_purchase(pc)
    await pc.advance("PT1H")
    done = await pc.ok("GET", f"/v1/customers/{customer_id}/orders/{order['id']}")
    sub_id = done["lineItems"][0]["subscriptionId"]
    await pc.sim("POST", "/reset", status=204)
    assert await pending_purchase(pc) == (customer_id, order)
    url = f"/v1/customers/{customer_id}/subscriptions/{sub_id}"
    await pc.fail("GET", url, None, 404, 20003)
    await pc.advance("PT1H")
    assert (await pc.ok("GET", url))["id"] == sub_id


async def test_pending_orders_count_toward_the_sandbox_subscription_limit(
    pc: PartnerClient,
) -> None:
    await pc.sim("PUT", "/config", {"sandboxLimits": True, "orderProvisioning": "PT1H"})
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=1) for _ in range(5)])
    cart = await pc.ok(
        "POST",
        f"/v1/customers/{customer_id}/carts",
        {"lineItems": [line(quantity=1)], "partnerOnRecordAttestationAccepted": True},
        status=201,
    )
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}/checkout"
    await pc.fail("POST", url, None, 400, 800018)
    await pc.advance("PT1H")
    assert len(await subscriptions(pc, customer_id)) == 5


async def test_copilot_may_use_base_seats_of_a_pending_order(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"orderProvisioning": "PT1H"})
    customer_id = await mca_customer(pc)
    await pc.buy(customer_id, [line(quantity=5)])
    copilot = "CFQ7TTC0MM8R:0002:CFQ7TTC0MM9A"
    await pc.buy(customer_id, [line(copilot, quantity=5)])
    cart = await pc.ok(
        "POST",
        f"/v1/customers/{customer_id}/carts",
        {"lineItems": [line(copilot, quantity=1)], "partnerOnRecordAttestationAccepted": True},
        status=201,
    )
    url = f"/v1/customers/{customer_id}/carts/{cart['id']}/checkout"
    await pc.fail("POST", url, None, 400, 800002)  # 5 pending + 1 > 5 base seats


# -- reads ---------------------------------------------------------------------------------------


async def test_list_orders_shows_every_order_of_the_customer(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    first = (await pc.buy(customer_id, [line()]))["orders"][0]
    second = (await pc.buy(customer_id, [line(E3, cycle="annual")]))["orders"][0]
    listed = await pc.ok("GET", f"/v1/customers/{customer_id}/orders")
    assert listed["totalCount"] == 2
    assert listed["attributes"] == {"objectType": "Collection"}
    assert sorted(o["id"] for o in listed["items"]) == sorted([first["id"], second["id"]])
    other = await mca_customer(pc, "other.onmicrosoft.com")
    assert await orders(pc, other) == []


async def test_get_order_matches_the_checkout_result(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    order = (await pc.buy(customer_id, [line(quantity=2)]))["orders"][0]
    got = await pc.ok("GET", f"/v1/customers/{customer_id}/orders/{order['id']}")
    assert got == order
    assert got["links"]["self"]["uri"] == f"/customers/{customer_id}/orders/{order['id']}"


async def test_unknown_order_is_404_20000(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    url = f"/v1/customers/{customer_id}/orders/0123456789ab"
    error = await pc.fail("GET", url, None, 404, 20000)
    assert "0123456789ab" in error["description"]
    await pc.fail("GET", f"{url}/provisioningstatus", None, 404, 20000)


async def test_another_customers_order_is_404_20000(pc: PartnerClient) -> None:
    first = await mca_customer(pc, "first.onmicrosoft.com")
    second = await mca_customer(pc, "second.onmicrosoft.com")
    order = (await pc.buy(first, [line()]))["orders"][0]
    await pc.fail("GET", f"/v1/customers/{second}/orders/{order['id']}", None, 404, 20000)


async def test_another_partners_customer_orders_are_403_20002(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id = await mca_customer(pc)
    order = (await pc.buy(customer_id, [line()]))["orders"][0]
    await direct_pc.fail("GET", f"/v1/customers/{customer_id}/orders", None, 403, 20002)
    url = f"/v1/customers/{customer_id}/orders/{order['id']}"
    await direct_pc.fail("GET", url, None, 403, 20002)


# -- direct POST …/orders ------------------------------------------------------------------------


def direct_line(
    offer: str = BASIC,
    quantity: int = 1,
    reseller: str | None = RESELLER["mpn_id"],
    additional: list[str] | None = None,
    term: str | None = "P1M",
    number: int = 0,
) -> dict[str, Any]:
    """An order line in the reference's own shape and casing."""
    out: dict[str, Any] = {"offerId": offer, "quantity": quantity, "lineItemNumber": number}
    if term is not None:
        out["termDuration"] = term
    if reseller is not None:
        out["PartnerIdOnRecord"] = reseller
    if additional is not None:
        out["AdditionalPartnerIdsOnRecord"] = additional
    return out


def order_body(*lines: dict[str, Any], attestation: bool | None = True) -> dict[str, Any]:
    body: dict[str, Any] = {"lineItems": list(lines) or [direct_line()], "billingCycle": "monthly"}
    if attestation is not None:
        body["PartnerOnRecordAttestationAccepted"] = attestation
    return body


async def new_reseller(pc: PartnerClient) -> str:
    made = await pc.sim(
        "POST", "/partners", {"name": "Extra", "kind": "indirect_reseller", "country": "IT"}, 201
    )
    await pc.sim(
        "POST",
        f"/partners/{made['tenantId']}/accept-provider-invitation",
        {"providerTenantId": PROVIDER["tenant_id"]},
    )
    return str(made["mpnId"])


async def test_direct_order_in_the_reference_shape_is_201_and_creates_the_subscription(
    pc: PartnerClient,
) -> None:
    extra = await new_reseller(pc)
    customer_id = await mca_customer(pc, "rossi.onmicrosoft.com", "IT")
    body = order_body(direct_line(additional=[extra]))
    order = await pc.ok("POST", f"/v1/customers/{customer_id}/orders", body, status=201)
    assert order["status"] == "completed"
    assert order["alternateId"] == order["id"]
    (item,) = order["lineItems"]
    assert item["partnerIdOnRecord"] == RESELLER["mpn_id"]
    assert item["additionalPartnerIdsOnRecord"] == [extra]
    sub = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{item['subscriptionId']}")
    assert (sub["offerId"], sub["termDuration"], sub["billingCycle"]) == (BASIC, "P1M", "monthly")
    assert sub["partnerId"] == RESELLER["mpn_id"]
    assert sub["additionalPartnerIdsOnRecord"] == [extra]
    assert [o["id"] for o in await orders(pc, customer_id)] == [order["id"]]


async def test_direct_order_without_mca_is_403_13605_and_creates_nothing(
    pc: PartnerClient,
) -> None:
    customer_id = (await pc.new_customer("nomca.onmicrosoft.com"))["id"]
    await pc.fail("POST", f"/v1/customers/{customer_id}/orders", order_body(), 403, 13605)
    assert await orders(pc, customer_id) == []
    assert await subscriptions(pc, customer_id) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (order_body(attestation=False), 400, 900206),
        (order_body(attestation=None), 400, 900206),
        (order_body(direct_line(reseller="9999999")), 404, 800015),
        (order_body(direct_line(reseller=PROVIDER["mpn_id"])), 404, 2072),
        (order_body(direct_line(reseller=DIRECT["mpn_id"])), 400, 800016),
        (order_body(direct_line(additional=["8888888"])), 400, 800002),  # US customer
        (order_body(direct_line(quantity=301)), 400, 900275),
        (order_body(direct_line(term="P1Y", offer="CFQ7TTC0LH18:0004:CFQ7TTC0K9T1")), 400, 800002),
    ],
    ids=[
        "attestation-false",
        "attestation-omitted",
        "unknown-reseller",
        "provider-as-reseller",
        "direct-partner-as-reseller",
        "additional-outside-eu",
        "above-maximum",
        "term-not-offered",
    ],
)
async def test_direct_order_follows_the_purchase_rules(
    pc: PartnerClient, body: dict[str, Any], status: int, code: int
) -> None:
    customer_id = await mca_customer(pc)
    await pc.fail("POST", f"/v1/customers/{customer_id}/orders", body, status, code)
    assert await orders(pc, customer_id) == []
    assert await subscriptions(pc, customer_id) == []


async def test_direct_order_below_the_minimum_quantity_is_900275(pc: PartnerClient) -> None:
    customer_id = await mca_customer(pc)
    trial = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"  # the trial is sold as exactly 25 seats
    body = {"billingCycle": "none", "lineItems": [direct_line(trial, quantity=1, reseller=None)]}
    await pc.fail("POST", f"/v1/customers/{customer_id}/orders", body, 400, 900275)
    assert await subscriptions(pc, customer_id) == []


async def test_direct_order_by_a_direct_partner_needs_no_attestation(
    direct_pc: PartnerClient,
) -> None:
    customer_id = await mca_customer(direct_pc)
    body = order_body(direct_line(reseller=None), attestation=None)
    order = await direct_pc.ok("POST", f"/v1/customers/{customer_id}/orders", body, status=201)
    assert order["status"] == "completed"


async def test_direct_partner_naming_a_partner_on_record_is_400(direct_pc: PartnerClient) -> None:
    customer_id = await mca_customer(direct_pc)
    error = await direct_pc.fail(
        "POST", f"/v1/customers/{customer_id}/orders", order_body(), 400, 800002
    )
    assert "direct partner" in error["description"]
    assert await orders(direct_pc, customer_id) == []


@pytest.mark.parametrize(
    ("patch", "code", "words"),
    [
        ({"billingCycle": "weekly"}, 900269, "billingCycle"),
        ({"lineItems": [direct_line(term="P2Y")]}, 800121, "termDuration"),
        ({"lineItems": [direct_line(term=None)]}, 800002, "termDuration is required"),
        ({"billingCycle": "annual"}, 900270, "P1M"),
        ({"lineItems": [direct_line(offer="CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ")]}, 800002, "offerId"),
        ({"lineItems": [direct_line(quantity=0)]}, 800002, "quantity"),
        ({"lineItems": []}, 800002, "lineitems"),
        ({"lineItems": [direct_line(), direct_line(E3)]}, 800002, "lineItemNumber"),
        (
            {"referenceCustomerId": "0f0f0f0f-0000-4000-8000-000000000000"},
            800002,
            "referenceCustomerId",
        ),
    ],
    ids=[
        "bad-cycle",
        "bad-term",
        "no-term",
        "cycle-longer-than-term",
        "unknown-offer",
        "quantity-0",
        "no-lines",
        "duplicate-line-numbers",
        "other-reference-customer",
    ],
)
async def test_malformed_direct_order_is_a_400_naming_the_field(
    pc: PartnerClient, patch: dict[str, Any], code: int, words: str
) -> None:
    customer_id = await mca_customer(pc)
    body = {**order_body(), **patch}
    error = await pc.fail("POST", f"/v1/customers/{customer_id}/orders", body, 400, code)
    assert words.lower() in error["description"].lower()
    assert await orders(pc, customer_id) == []
