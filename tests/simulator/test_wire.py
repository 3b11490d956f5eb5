"""Partner Center's wire conventions: ids in headers, envelopes, casing, and refusals that are
always a Partner Center body (never a 500)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.simulator.conftest import SAMPLE_CUSTOMER, PartnerClient, customer_body

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def camel_keys(value: Any) -> list[str]:
    """Every key that is not camelCase (starts upper-case or holds an underscore)."""
    bad: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key[:1].isupper() or "_" in key:
                bad.append(key)
            bad += camel_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            bad += camel_keys(inner)
    return bad


async def test_request_and_correlation_ids_are_echoed(pc: PartnerClient) -> None:
    resp = await pc.call(
        "GET", "/v1/customers", headers={"MS-RequestId": "req-1", "MS-CorrelationId": "cor-1"}
    )
    assert (resp.headers["MS-RequestId"], resp.headers["MS-CorrelationId"]) == ("req-1", "cor-1")


async def test_request_and_correlation_ids_are_generated_when_absent(pc: PartnerClient) -> None:
    resp = await pc.call("GET", "/v1/customers")
    assert GUID.match(resp.headers["MS-RequestId"])
    assert GUID.match(resp.headers["MS-CorrelationId"])


async def test_ids_are_echoed_on_errors_too(pc: PartnerClient) -> None:
    resp = await pc.http.get("/v1/customers", headers={"MS-CorrelationId": "cor-2"})
    assert resp.status == 401
    assert resp.headers["MS-CorrelationId"] == "cor-2"


async def test_microsofts_pascal_case_sample_body_creates_a_customer(pc: PartnerClient) -> None:
    created = await pc.ok("POST", "/v1/customers", SAMPLE_CUSTOMER, status=201)
    assert created["companyProfile"]["domain"] == "xyz.onmicrosoft.com"
    assert created["billingProfile"]["companyName"] == "test company"
    assert created["billingProfile"]["defaultAddress"]["city"] == "Redmond"


async def test_responses_are_camel_case_with_object_types(pc: PartnerClient) -> None:
    created = await pc.ok("POST", "/v1/customers", SAMPLE_CUSTOMER, status=201)
    assert camel_keys(created) == []
    assert created["attributes"]["objectType"] == "Customer"
    assert created["companyProfile"]["attributes"]["objectType"] == "CustomerCompanyProfile"
    assert created["links"]["self"]["uri"] == f"/customers/{created['id']}"


async def test_collections_have_total_count_items_links_and_attributes(pc: PartnerClient) -> None:
    await pc.new_customer("listed.onmicrosoft.com")
    body = await pc.ok("GET", "/v1/customers")
    assert {"totalCount", "items", "links", "attributes"} <= set(body)
    assert body["totalCount"] == len(body["items"]) == 1
    assert body["attributes"] == {"objectType": "Collection"}
    assert body["links"]["self"]["method"] == "GET"
    assert not body["links"]["self"]["uri"].startswith("/v1")
    assert body["items"][0]["attributes"]["objectType"] == "Customer"


async def test_malformed_json_is_400_800002(pc: PartnerClient) -> None:
    resp = await pc.http.post(
        "/v1/customers",
        data=b'{"companyProfile": {',
        headers={"Authorization": f"Bearer {pc.token}", "Content-Type": "application/json"},
    )
    body = await resp.json()
    assert (resp.status, body["code"]) == (400, 800002)
    assert "JSON" in body["description"]
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000 + b"]" * 100_000, b"[1, 2]", b'"text"', b"null", b"", b"\xff\xfe"],
)
async def test_bodies_that_are_not_a_json_object_are_400_not_500(
    pc: PartnerClient, raw: bytes
) -> None:
    resp = await pc.http.post(
        "/v1/customers", data=raw, headers={"Authorization": f"Bearer {pc.token}"}
    )
    body = await resp.json()
    assert (resp.status, body["code"]) == (400, 800002), body


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["billingProfile"].pop("email"), "billingprofile.email"),
        (lambda b: b.pop("companyProfile"), "companyprofile"),
        (lambda b: b["billingProfile"].update(email=5), "billingprofile.email"),
        (lambda b: b["billingProfile"].update(defaultAddress="Redmond"), "defaultaddress"),
        (lambda b: b.update(enableGDAPByDefault="sometimes"), "enablegdapbydefault"),
    ],
)
async def test_missing_fields_and_wrong_types_are_400_naming_the_field(
    pc: PartnerClient, mutate: Any, field: str
) -> None:
    body = customer_body("typed.onmicrosoft.com")
    mutate(body)
    error = await pc.fail("POST", "/v1/customers", body, 400, 800002)
    assert field in error["description"].lower()
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0


async def test_true_where_a_number_belongs_is_400_naming_the_field(pc: PartnerClient) -> None:
    customer = await pc.new_customer("quantity.onmicrosoft.com")
    body = {
        "lineItems": [
            {
                "catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971",
                "quantity": True,
                "termDuration": "P1Y",
                "billingCycle": "monthly",
            }
        ]
    }
    error = await pc.fail("POST", f"/v1/customers/{customer['id']}/carts", body, 400, 800002)
    assert "lineItems.0.quantity must be an integer, got true" in error["description"]
    assert (await pc.sim("GET", "/state"))["carts"] == []


async def test_an_unknown_v1_route_is_404_with_a_partner_center_body(pc: PartnerClient) -> None:
    body = await pc.fail("GET", "/v1/nowhere/at/all", None, 404, 1000)
    assert "/v1/nowhere/at/all" in body["description"]


async def test_an_unknown_route_outside_v1_is_404_with_a_partner_center_body(
    pc: PartnerClient,
) -> None:
    resp = await pc.http.get("/nowhere")
    body = await resp.json()
    assert resp.status == 404
    assert set(body) == {"code", "description", "data", "source"}


async def test_a_wrong_method_is_405_with_a_partner_center_body(pc: PartnerClient) -> None:
    resp = await pc.call("DELETE", "/v1/customers")
    body = await resp.json()
    assert resp.status == 405
    assert set(body) == {"code", "description", "data", "source"}
    assert "GET" in resp.headers["Allow"]


async def test_codes_are_integers_on_the_wire(pc: PartnerClient) -> None:
    body = await pc.fail("GET", "/v1/customers/not-a-customer", None, 403, 20002)
    assert isinstance(body["code"], int)


async def test_paging_past_the_end_is_400_2000(pc: PartnerClient) -> None:
    await pc.new_customer("page.onmicrosoft.com")
    first = await pc.ok("GET", "/v1/customers?size=1")
    token = first["continuationToken"]
    resp = await pc.call(
        "GET", "/v1/customers?size=1&seekOperation=next", headers={"MS-ContinuationToken": token}
    )
    body = await resp.json()
    assert (resp.status, body["code"]) == (400, 2000)


async def test_a_missing_field_is_named_as_the_client_spelled_its_parents(
    pc: PartnerClient,
) -> None:
    body = copy.deepcopy(SAMPLE_CUSTOMER)
    del body["BillingProfile"]["DefaultAddress"]["Country"]
    error = await pc.fail("POST", "/v1/customers", body, 400, 800002)
    assert "BillingProfile.DefaultAddress.country: Field required" in error["description"]


async def test_the_date_header_follows_the_simulated_clock(pc: PartnerClient) -> None:
    """Clients that judge Microsoft's windows by Partner Center's clock see the moved time."""
    resp = await pc.call("GET", "/v1/customers")
    assert resp.headers["Date"] == "Mon, 05 Jan 2026 09:00:00 GMT"
    await pc.advance("P8D")
    resp = await pc.call("GET", "/v1/customers")
    assert resp.headers["Date"] == "Tue, 13 Jan 2026 09:00:00 GMT"
