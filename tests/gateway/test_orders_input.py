"""Bad northbound input: a 400 ``Problem`` naming the field, and nothing left behind — no
operation in the journal and no Partner Center write (only the catalog may have been read to
resolve a plan code or a ``catalogItemId``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import BASIC, PartnerClient

Change = Callable[[dict[str, Any]], None]


async def v1_calls(sim: PartnerClient) -> list[dict[str, Any]]:
    body = await sim.sim("GET", "/requests?limit=1000")
    return [r for r in body["items"] if r["path"].startswith("/v1/")]


async def assert_nothing_left(gw: Gateway, sim: PartnerClient, catalog_reads: bool) -> None:
    listing = await gw.http.get("/v1/operations")
    assert (listing.status, (await listing.json())["items"]) == (200, [])
    calls = await v1_calls(sim)
    if catalog_reads:
        calls = [c for c in calls if not (c["method"] == "GET" and c["path"].startswith("/v1/products"))]  # fmt: skip
    assert calls == []


def assert_problem(status: int, body: dict[str, Any], field: str, code: str | None = None) -> None:
    assert status == 400, body
    assert body["field"] == field, body
    assert set(body) == {"code", "message", "field", "correlationId"}, body
    assert body["message"]
    assert body["correlationId"]
    if code is not None:
        assert body["code"] == code, body


def at(order: dict[str, Any], *path: str | int) -> Any:
    node: Any = order
    for part in path:
        node = node[part]
    return node


def setting(*path: str | int, value: Any) -> Change:
    def change(order: dict[str, Any]) -> None:
        at(order, *path[:-1])[path[-1]] = value

    return change


def dropping(*path: str | int) -> Change:
    def change(order: dict[str, Any]) -> None:
        del at(order, *path[:-1])[path[-1]]

    return change


def replacing_line(**line: Any) -> Change:
    def change(order: dict[str, Any]) -> None:
        order["lines"] = [line]

    return change


def existing_tenant_too(order: dict[str, Any]) -> None:
    order["customer"]["existingTenant"] = {"domain": "contosoexisting.onmicrosoft.com"}


def no_tenant(order: dict[str, Any]) -> None:
    order["customer"] = {}


PLAN = "Microsoft 365 Business Basic (NCE COM 1YR MTH)"

#: (what is wrong, the change, the field named, words of the message, catalog may be read)
REFUSED: list[tuple[str, Change, str, str, bool]] = [
    ("missing reseller MPN", dropping("reseller", "mpnId"), "reseller.mpnId", "is required", False),
    ("malformed reseller domain", setting("reseller", "domain", value="fabrikam.com"),
     "reseller.domain", "onmicrosoft.com", False),
    ("malformed domainPrefix", setting("customer", "newTenant", "domainPrefix", value="-bad_prefix"),
     "customer.newTenant.domainPrefix", "hyphens", False),
    ("attestation false", setting("partnerOnRecordAttestation", value=False),
     "partnerOnRecordAttestation", "True", False),
    ("quantity 0", setting("lines", 0, "quantity", value=0), "lines[0].quantity",
     "greater than or equal to 1", False),
    ("unknown plan code", setting("lines", 0, "planCode", value="Microsoft 365 Ultra (NCE COM 1YR MTH)"),
     "lines[0].planCode", "no product titled 'Microsoft 365 Ultra'", True),
    ("malformed plan code", setting("lines", 0, "planCode", value="Business Basic yearly"),
     "lines[0].planCode", "is not a plan code like", False),
    ("plan code without a term when ambiguous",
     setting("lines", 0, "planCode", value="Microsoft 365 Business Basic (NCE COM MTH)"),
     "lines[0].planCode", "add 1MO, 1YR or 3YR", True),
    ("catalog item with a term/billing not sold",
     replacing_line(catalogItemId=BASIC, termDuration="P1M", billingCycle="annual", quantity=5),
     "lines[0].termDuration", "not sold as P1M/annual", True),
    ("unknown catalog item", replacing_line(catalogItemId="CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ",
                                            termDuration="P1Y", billingCycle="monthly", quantity=5),
     "lines[0].catalogItemId", "is not in the catalog", True),
    ("quantity above the SKU's 300 cap", setting("lines", 0, "quantity", value=301),
     "lines[0].quantity", "(1-300)", True),
    ("unknown top-level field", setting("colour", value="blue"), "colour",
     "colour is not a field of this request", False),
    ("unknown nested field", setting("customer", "newTenant", "address", "colour", value="blue"),
     "customer.newTenant.address.colour", "is not a field", False),
    ("quantity as a string", setting("lines", 0, "quantity", value="5"), "lines[0].quantity",
     "valid integer", False),
    ("attestation as a string", setting("partnerOnRecordAttestation", value="true"),
     "partnerOnRecordAttestation", "True", False),
    ("both newTenant and existingTenant", existing_tenant_too, "customer",
     "exactly one of newTenant or existingTenant", False),
    ("neither newTenant nor existingTenant", no_tenant, "customer",
     "exactly one of newTenant or existingTenant", False),
    ("six additional resellers",
     setting("additionalResellerMpnIds", value=[str(4000001 + i) for i in range(6)]),
     "additionalResellerMpnIds", "at most 5", False),
    ("additional resellers for a US customer", setting("additionalResellerMpnIds", value=["4000001"]),
     "additionalResellerMpnIds", "only for customers in EU/EFTA countries; this customer is in US",
     False),
    ("no lines", setting("lines", value=[]), "lines", "at least 1", False),
    ("the reseller of record repeated as an additional reseller",
     setting("additionalResellerMpnIds", value=["2000002"]), "additionalResellerMpnIds",
     "listed twice", False),
    ("a lower-case country", setting("customer", "newTenant", "address", "country", value="us"),
     "customer.newTenant.address.country", "two-letter ISO country code in capitals", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "words", "catalog_reads"),
    [pytest.param(*case, id=what) for what, *case in REFUSED],
)
async def test_a_bad_order_is_refused_naming_the_field_and_leaves_nothing_behind(
    gw: Gateway, sim: PartnerClient, change: Change, field: str, words: str, catalog_reads: bool
) -> None:
    order = purchase_order()
    change(order)
    resp = await gw.post("/v1/orders", order)
    body = await resp.json()
    assert_problem(resp.status, body, field)
    assert words in body["message"], body
    await assert_nothing_left(gw, sim, catalog_reads)


async def test_domains_in_capitals_are_accepted_and_lowered(
    gw: Gateway, sim: PartnerClient
) -> None:
    order = purchase_order(
        prefix="CONTOSO",
        reseller={"mpnId": "2000002", "domain": "FabrikamResellers.onmicrosoft.com"},
    )
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "succeeded", op
    assert op["result"]["domain"] == "contoso.onmicrosoft.com"
    customer = await sim.ok("GET", f"/v1/customers/{op['result']['customerId']}")
    assert customer["companyProfile"]["domain"] == "contoso.onmicrosoft.com"


async def test_a_quantity_above_the_cap_says_the_offers_range(gw: Gateway) -> None:
    resp = await gw.post("/v1/orders", purchase_order(lines=[{"planCode": PLAN, "quantity": 301}]))
    body = await resp.json()
    assert_problem(resp.status, body, "lines[0].quantity", "quantity_out_of_range")
    assert "1-300" in body["message"]


async def test_an_unknown_field_is_named_as_not_a_field_of_the_request(gw: Gateway) -> None:
    resp = await gw.post("/v1/orders", purchase_order(colour="blue"))
    body = await resp.json()
    assert_problem(resp.status, body, "colour", "invalid_request")
    assert "not a field" in body["message"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [pytest.param(b"", "invalid_request", id="empty body"),
     pytest.param(b"   ", "invalid_request", id="blank body"),
     pytest.param(b'{"customer": ', "invalid_json", id="malformed JSON"),
     pytest.param(b"[1, 2]", "invalid_request", id="a JSON array")],
)  # fmt: skip
async def test_a_body_that_is_not_a_json_object_is_refused(
    gw: Gateway, sim: PartnerClient, raw: bytes, code: str
) -> None:
    resp = await gw.http.post(
        "/v1/orders",
        data=raw,
        headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
    )
    assert_problem(resp.status, await resp.json(), "body", code)
    await assert_nothing_left(gw, sim, catalog_reads=False)


async def test_an_order_without_an_idempotency_key_is_refused_before_any_call(
    gw: Gateway, sim: PartnerClient
) -> None:
    resp = await gw.http.post("/v1/orders", json=purchase_order())
    assert_problem(resp.status, await resp.json(), "Idempotency-Key", "idempotency_key_required")
    await assert_nothing_left(gw, sim, catalog_reads=False)


SUBSCRIPTION = f"/v1/customers/{uuid.uuid4()}/subscriptions/{uuid.uuid4()}"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [pytest.param("seats", {"quantity": 0}, "quantity", id="seats to 0"),
     pytest.param("seats", {"quantity": "5"}, "quantity", id="seats as a string"),
     pytest.param("seats", {}, "quantity", id="seats missing"),
     pytest.param("seats", {"quantity": 5, "when": "now"}, "when", id="seats with an unknown field"),
     pytest.param("cancel", {"reason": "Bored"}, "reason", id="cancel with an unknown reason"),
     pytest.param("cancel", {"reason": "Other", "refund": True}, "refund", id="cancel with an unknown field"),
     pytest.param("suspend", {"now": True}, "now", id="suspend with an unknown field"),
     pytest.param("auto-renew", {"enabled": "yes"}, "enabled", id="auto-renew not a boolean")],
)  # fmt: skip
async def test_a_bad_subscription_change_is_refused_naming_the_field(
    gw: Gateway, sim: PartnerClient, action: str, body: dict[str, Any], field: str
) -> None:
    resp = await gw.post(f"{SUBSCRIPTION}/{action}", body)
    assert_problem(resp.status, await resp.json(), field)
    await assert_nothing_left(gw, sim, catalog_reads=False)


async def test_a_subscription_change_with_malformed_json_is_refused(
    gw: Gateway, sim: PartnerClient
) -> None:
    resp = await gw.http.post(
        f"{SUBSCRIPTION}/seats",
        data=b"{quantity: 5}",
        headers={"Idempotency-Key": "k1", "Content-Type": "application/json"},
    )
    assert_problem(resp.status, await resp.json(), "body", "invalid_json")
    await assert_nothing_left(gw, sim, catalog_reads=False)


async def test_a_subscription_change_without_an_idempotency_key_is_refused(
    gw: Gateway, sim: PartnerClient
) -> None:
    resp = await gw.http.post(f"{SUBSCRIPTION}/seats", json={"quantity": 6})
    assert_problem(resp.status, await resp.json(), "Idempotency-Key", "idempotency_key_required")
    await assert_nothing_left(gw, sim, catalog_reads=False)
