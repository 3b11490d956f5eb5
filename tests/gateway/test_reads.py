"""Reads: a customer, a subscription with what can still be undone and until when, operations
listed with filters and paging, and the published OpenAPI document."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import RESELLER, PartnerClient

BOUGHT_AT = datetime.fromisoformat("2026-01-05T09:00:00Z")


async def buy(gw: Gateway, prefix: str = "contoso") -> dict[str, Any]:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order(prefix=prefix)))["id"])
    assert op["status"] == "succeeded", op
    return op


async def get(gw: Gateway, path: str, status: int = 200) -> Any:
    resp = await gw.http.get(path)
    body = await resp.json()
    assert resp.status == status, body
    return body


async def subscription_of(gw: Gateway, op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    customer, [sub] = op["result"]["customerId"], op["result"]["subscriptionIds"]
    path = f"/v1/customers/{customer}/subscriptions/{sub}"
    return path, await get(gw, path)


async def test_a_customer_shows_its_domain_country_and_indirect_reseller(gw: Gateway) -> None:
    op = await buy(gw)
    customer = await get(gw, f"/v1/customers/{op['result']['customerId']}")
    assert customer["id"] == op["result"]["customerId"]
    assert (customer["domain"], customer["country"]) == ("contoso.onmicrosoft.com", "US")
    assert customer["companyName"] == "Contoso Ltd"
    [reseller] = customer["indirectResellers"]
    assert (reseller["tenantId"], reseller["mpnId"]) == (RESELLER["tenant_id"], "2000002")


async def test_an_unknown_customer_is_a_404_problem(gw: Gateway) -> None:
    body = await get(gw, "/v1/customers/00000000-0000-4000-8000-000000000000", 404)
    assert body["code"] == "not_found"
    assert body["correlationId"]


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [({"status": 429, "retryAfter": 7}, "7"), ({"status": 503}, "5")],
    ids=["throttled", "failing"],
)
async def test_a_read_partner_center_throttles_or_fails_is_a_503_saying_when_to_try_again(
    gw: Gateway, sim: PartnerClient, fault: dict[str, Any], retry_after: str
) -> None:
    customer = (await buy(gw))["result"]["customerId"]
    await sim.sim("POST", "/faults", {"method": "GET", "path": "^/v1/customers/[^/]+$", **fault},
                  status=201)  # fmt: skip
    resp = await gw.http.get(f"/v1/customers/{customer}")
    body = await resp.json()
    assert (resp.status, body["code"]) == (503, "partner_center_busy"), body
    assert resp.headers["Retry-After"] == retry_after
    assert str(fault["status"]) in body["message"]


async def test_a_subscription_shows_what_can_be_undone_inside_the_window(gw: Gateway) -> None:
    _, sub = await subscription_of(gw, await buy(gw))
    assert (sub["quantity"], sub["status"], sub["resellerMpnId"]) == (5, "active", "2000002")
    assert (sub["termDuration"], sub["billingCycle"]) == ("P1Y", "monthly")
    assert sub["canCancel"] is True
    until = datetime.fromisoformat(sub["cancellableUntil"])
    assert until == BOUGHT_AT + timedelta(hours=168)
    assert datetime.fromisoformat(sub["asOf"]) < until
    assert sub["reducibleQuantity"] == 5
    assert sub["lowestQuantityNow"] == 1
    assert sub["seatWindows"] == [{"quantity": 5, "reducibleUntil": sub["cancellableUntil"]}]


async def test_a_subscription_after_the_window_can_neither_be_cancelled_nor_reduced(
    gw: Gateway, sim: PartnerClient
) -> None:
    op = await buy(gw)
    await sim.advance("PT169H")
    _, sub = await subscription_of(gw, op)
    assert sub["canCancel"] is False
    assert (sub["reducibleQuantity"], sub["lowestQuantityNow"], sub["seatWindows"]) == (
        5 - 5,
        5,
        [],
    )
    assert datetime.fromisoformat(sub["asOf"]) == BOUGHT_AT + timedelta(hours=169)


async def test_seats_added_later_have_their_own_window(gw: Gateway, sim: PartnerClient) -> None:
    op = await buy(gw)
    await sim.advance("P8D")
    path, _ = await subscription_of(gw, op)
    seats = await gw.submit(f"{path}/seats", {"quantity": 8})
    assert (await gw.wait(seats["id"]))["status"] == "succeeded"
    sub = await get(gw, path)
    assert (sub["quantity"], sub["reducibleQuantity"], sub["lowestQuantityNow"]) == (8, 3, 5)
    [window] = sub["seatWindows"]
    assert window["quantity"] == 3
    added = BOUGHT_AT + timedelta(days=8)
    assert datetime.fromisoformat(window["reducibleUntil"]) == added + timedelta(hours=168)
    assert sub["canCancel"] is False


async def test_an_unknown_subscription_is_a_404_problem(gw: Gateway) -> None:
    op = await buy(gw)
    path = f"/v1/customers/{op['result']['customerId']}/subscriptions/00000000-0000-4000-8000-000000000000"
    body = await get(gw, path, 404)
    assert body["code"] == "not_found"
    assert "does not exist" in body["message"]


async def test_an_unknown_operation_is_a_404_problem(gw: Gateway) -> None:
    body = await get(gw, "/v1/operations/00000000-0000-4000-8000-000000000000", 404)
    assert body["code"] == "not_found"


# -- the operations list -----------------------------------------------------------------------


async def some_operations(gw: Gateway) -> dict[str, list[str]]:
    """Three purchases that succeed, one that fails, and one seat change."""
    ids: dict[str, list[str]] = {"succeeded": [], "failed": [], "change_seats": []}
    for prefix in ("alpha", "bravo", "charlie"):
        ids["succeeded"].append((await buy(gw, prefix))["id"])
    unknown = purchase_order(
        prefix="delta", reseller={"mpnId": "9999999", "domain": "x.onmicrosoft.com"}
    )
    failed = await gw.wait((await gw.submit("/v1/orders", unknown))["id"])
    ids["failed"].append(failed["id"])
    path, _ = await subscription_of(gw, await gw.operation(ids["succeeded"][0]))
    seats = await gw.wait((await gw.submit(f"{path}/seats", {"quantity": 6}))["id"])
    ids["change_seats"].append(seats["id"])
    return ids


async def listed(gw: Gateway, query: str) -> list[str]:
    return [op["id"] for op in (await get(gw, f"/v1/operations?{query}"))["items"]]


async def test_operations_are_listed_newest_first_and_filtered(gw: Gateway) -> None:
    ids = await some_operations(gw)
    everything = await listed(gw, "")
    assert len(everything) == 5
    assert everything[0] == ids["change_seats"][0]
    assert await listed(gw, "status=failed") == ids["failed"]
    assert set(await listed(gw, "status=succeeded")) == {*ids["succeeded"], *ids["change_seats"]}
    assert await listed(gw, "kind=change_seats") == ids["change_seats"]
    assert set(await listed(gw, "kind=purchase")) == {*ids["succeeded"], *ids["failed"]}
    assert await listed(gw, "kind=purchase&status=failed") == ids["failed"]
    assert await listed(gw, "status=action_required") == []


async def test_operations_page_with_a_cursor_without_gaps_or_repeats(gw: Gateway) -> None:
    await some_operations(gw)
    everything = await listed(gw, "")
    seen: list[str] = []
    pages = 0
    query = "limit=2"
    while True:
        page = await get(gw, f"/v1/operations?{query}")
        assert len(page["items"]) <= 2
        seen += [op["id"] for op in page["items"]]
        pages += 1
        if not page.get("nextCursor"):
            break
        query = f"limit=2&cursor={page['nextCursor']}"
    assert seen == everything
    assert pages == 3


async def test_a_filtered_list_pages_within_its_filter(gw: Gateway) -> None:
    ids = await some_operations(gw)
    first = await get(gw, "/v1/operations?kind=purchase&limit=3")
    rest = await get(gw, f"/v1/operations?kind=purchase&limit=3&cursor={first['nextCursor']}")
    got = [op["id"] for op in first["items"] + rest["items"]]
    assert sorted(got) == sorted([*ids["succeeded"], *ids["failed"]])
    assert rest.get("nextCursor") is None


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=done", "status"), ("status=", "status"), ("limit=0", "limit"), ("limit=201", "limit"),
     ("limit=ten", "limit"), ("limit=-1", "limit"), ("cursor=not-a-cursor", "cursor"),
     ("kind=refund", "kind")],
)  # fmt: skip
async def test_a_bad_list_query_is_a_400_naming_the_parameter(
    gw: Gateway, query: str, field: str
) -> None:
    body = await get(gw, f"/v1/operations?{query}", 400)
    assert (body["code"], body["field"]) == ("invalid_request", field)


# -- OpenAPI -----------------------------------------------------------------------------------


async def test_the_openapi_document_is_3_1_and_describes_the_purchase_order(gw: Gateway) -> None:
    doc = await get(gw, "/openapi.json")
    assert doc["openapi"] == "3.1.0"
    post = doc["paths"]["/v1/orders"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PurchaseOrder"}
    order = doc["components"]["schemas"]["PurchaseOrder"]
    assert {"partnerOnRecordAttestation", "additionalResellerMpnIds", "customer", "lines"} <= set(
        order["properties"]
    )
    assert "partnerOnRecordAttestation" in order["required"]
    assert order["additionalProperties"] is False
    assert "202" in post["responses"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    for name, schema in doc["components"]["schemas"].items():
        assert not any("_" in prop for prop in schema.get("properties", {})), name


async def test_the_openapi_document_lists_every_route_the_gateway_serves(gw: Gateway) -> None:
    doc = await get(gw, "/openapi.json")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (route.method, route.resource.canonical)
        for route in gw.http.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1/")
        and route.method != "HEAD"
    }
    assert served
    assert served == documented
