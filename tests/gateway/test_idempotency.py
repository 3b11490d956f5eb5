"""The ``Idempotency-Key`` contract: a repeated write finds its first operation, a key reused for
another request is refused, and only the key (not the body) tells two requests apart."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PartnerClient


async def customers_with_domain(sim: PartnerClient, domain: str) -> int:
    page = await sim.ok("GET", "/v1/customers?size=100")
    return sum(1 for c in page["items"] if c["companyProfile"]["domain"] == domain)


async def operation_ids(gw: Gateway) -> list[str]:
    listing = await (await gw.http.get("/v1/operations")).json()
    return [op["id"] for op in listing["items"]]


async def test_the_same_key_and_body_return_the_same_operation_and_buy_once(
    gw: Gateway, sim: PartnerClient
) -> None:
    first = await gw.submit("/v1/orders", purchase_order(), key="order-1")
    again = await gw.submit("/v1/orders", purchase_order(), key="order-1")
    assert again["id"] == first["id"]
    done = await gw.wait(first["id"])
    assert done["status"] == "succeeded", done
    after = await gw.submit("/v1/orders", purchase_order(), key="order-1")
    assert (after["id"], after["status"]) == (first["id"], "succeeded")
    assert await operation_ids(gw) == [first["id"]]
    assert await customers_with_domain(sim, "contoso.onmicrosoft.com") == 1


async def test_concurrent_repeats_of_one_key_make_one_operation(
    gw: Gateway, sim: PartnerClient
) -> None:
    answers = await asyncio.gather(
        *(gw.submit("/v1/orders", purchase_order(), key="order-burst") for _ in range(5))
    )
    assert len({a["id"] for a in answers}) == 1
    assert (await gw.wait(answers[0]["id"]))["status"] == "succeeded"
    assert await customers_with_domain(sim, "contoso.onmicrosoft.com") == 1


async def test_the_same_body_with_its_keys_in_another_order_is_the_same_request(
    gw: Gateway,
) -> None:
    order = purchase_order()
    shuffled: dict[str, Any] = json.loads(json.dumps(dict(reversed(list(order.items())))))
    shuffled["reseller"]["domain"] = "FabrikamResellers.onmicrosoft.com"  # domains ignore case
    first = await gw.submit("/v1/orders", order, key="order-2")
    again = await gw.submit("/v1/orders", shuffled, key="order-2")
    assert again["id"] == first["id"]
    await gw.wait(first["id"])


async def test_the_same_key_with_a_different_body_is_refused_naming_the_header(
    gw: Gateway, sim: PartnerClient
) -> None:
    first = await gw.submit("/v1/orders", purchase_order(), key="order-3")
    resp = await gw.post("/v1/orders", purchase_order(prefix="fabrikam"), key="order-3")
    body = await resp.json()
    assert resp.status == 422, body
    assert (body["code"], body["field"]) == ("idempotency_key_reused", "Idempotency-Key")
    assert first["id"] in body["message"]
    await gw.wait(first["id"])
    assert await operation_ids(gw) == [first["id"]]
    assert await customers_with_domain(sim, "fabrikam.onmicrosoft.com") == 0


async def test_a_key_used_for_an_order_cannot_be_reused_for_a_subscription_change(
    gw: Gateway,
) -> None:
    first = await gw.submit("/v1/orders", purchase_order(), key="shared")
    done = await gw.wait(first["id"])
    customer, [sub] = done["result"]["customerId"], done["result"]["subscriptionIds"]
    resp = await gw.post(
        f"/v1/customers/{customer}/subscriptions/{sub}/seats", {"quantity": 6}, key="shared"
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["field"] == "Idempotency-Key"


async def test_two_keys_make_two_operations(gw: Gateway, sim: PartnerClient) -> None:
    first = await gw.submit("/v1/orders", purchase_order(prefix="contoso"), key="a")
    second = await gw.submit("/v1/orders", purchase_order(prefix="fabrikam"), key="b")
    assert first["id"] != second["id"]
    for op in (first, second):
        assert (await gw.wait(op["id"]))["status"] == "succeeded"
    assert sorted(await operation_ids(gw)) == sorted([first["id"], second["id"]])
    assert await customers_with_domain(sim, "contoso.onmicrosoft.com") == 1
    assert await customers_with_domain(sim, "fabrikam.onmicrosoft.com") == 1


async def test_the_same_new_tenant_ordered_under_two_keys_is_created_once(
    gw: Gateway, sim: PartnerClient
) -> None:
    """Two keys are two requests; the second finds the domain taken and says what to do."""
    first = await gw.submit("/v1/orders", purchase_order(), key="c")
    second = await gw.submit("/v1/orders", purchase_order(), key="d")
    outcomes = sorted([(await gw.wait(op["id"]))["status"] for op in (first, second)])
    assert outcomes == ["failed", "succeeded"]
    failed = next(
        op for op in [await gw.operation(first["id"]), await gw.operation(second["id"])]
        if op["status"] == "failed"
    )  # fmt: skip
    assert "contoso.onmicrosoft.com is already in use" in failed["error"]["message"]
    assert await customers_with_domain(sim, "contoso.onmicrosoft.com") == 1
