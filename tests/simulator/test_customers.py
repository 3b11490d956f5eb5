"""Customers over HTTP: domain checks, creation (direct and for an indirect reseller), reads,
seek paging, the reseller-relationship link and relationship removal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import (
    PROVIDER,
    RESELLER,
    SAMPLE_CUSTOMER,
    PartnerClient,
    customer_body,
)


async def fail_with(
    pc: PartnerClient, method: str, path: str, status: int, code: int, **kw: Any
) -> dict[str, Any]:
    """Like ``pc.fail`` but passing headers through."""
    resp = await pc.call(method, path, **kw)
    body = await resp.json()
    assert (resp.status, body.get("code")) == (status, code), body
    assert set(body) == {"code", "description", "data", "source"}
    return dict(body)


async def listed_ids(pc: PartnerClient) -> list[str]:
    return [c["id"] for c in (await pc.ok("GET", "/v1/customers"))["items"]]


async def domain_status(pc: PartnerClient, domain: str) -> tuple[int, bytes]:
    resp = await pc.call("HEAD", f"/v1/domains/{domain}")
    return resp.status, await resp.read()


# -- domains ------------------------------------------------------------------------------------


async def test_free_domain_answers_404(pc: PartnerClient) -> None:
    assert (await domain_status(pc, "nobody.onmicrosoft.com"))[0] == 404


async def test_domain_of_created_customer_answers_200_with_empty_body(pc: PartnerClient) -> None:
    await pc.new_customer("taken.onmicrosoft.com")
    assert await domain_status(pc, "taken.onmicrosoft.com") == (200, b"")


async def test_domain_check_ignores_case(pc: PartnerClient) -> None:
    await pc.new_customer("mixed.onmicrosoft.com")
    assert (await domain_status(pc, "MIXED.onmicrosoft.com"))[0] == 200


async def test_domain_of_existing_cloud_tenant_answers_200(pc: PartnerClient) -> None:
    body = {"domain": "existing.onmicrosoft.com", "companyName": "Existing", "country": "DE"}
    await pc.sim("POST", "/tenants", body, status=201)
    assert await domain_status(pc, "existing.onmicrosoft.com") == (200, b"")


# -- creation -----------------------------------------------------------------------------------


async def test_created_customer_has_tenant_id_commerce_id_and_admin_credentials(
    pc: PartnerClient,
) -> None:
    created = await pc.new_customer("fresh.onmicrosoft.com")
    assert created["id"] == created["companyProfile"]["tenantId"]
    assert created["commerceId"]
    assert created["commerceId"] != created["id"]
    assert created["relationshipToPartner"] == "none"
    credentials = created["userCredentials"]
    assert credentials["userName"]
    assert credentials["password"]
    assert created["companyProfile"]["domain"] == "fresh.onmicrosoft.com"
    assert created["billingProfile"]["defaultAddress"]["country"] == "US"
    assert created["attributes"]["objectType"] == "Customer"


async def test_microsoft_sample_body_in_pascal_case_creates_a_customer(pc: PartnerClient) -> None:
    created = await pc.ok("POST", "/v1/customers", SAMPLE_CUSTOMER, status=201)
    assert created["billingProfile"]["email"] == "test@outlook.com"
    assert created["billingProfile"]["companyName"] == "test company"
    assert created["billingProfile"]["defaultAddress"]["city"] == "Redmond"
    assert created["companyProfile"]["domain"] == "xyz.onmicrosoft.com"


async def test_created_customer_is_readable_by_id_without_credentials(pc: PartnerClient) -> None:
    created = await pc.new_customer("readme.onmicrosoft.com")
    read = await pc.ok("GET", f"/v1/customers/{created['id']}")
    assert read["id"] == created["id"]
    assert read["commerceId"] == created["commerceId"]
    assert read["companyProfile"]["domain"] == "readme.onmicrosoft.com"
    assert "userCredentials" not in read
    assert read["links"]["self"]["uri"] == f"/customers/{created['id']}"


async def test_customer_for_related_reseller_shows_associated_partner_and_relationship(
    pc: PartnerClient,
) -> None:
    body = customer_body("viareseller.onmicrosoft.com", AssociatedPartnerId=RESELLER["tenant_id"])
    created = await pc.ok("POST", "/v1/customers", body, status=201)
    assert created["associatedPartnerId"] == RESELLER["tenant_id"]
    read = await pc.ok("GET", f"/v1/customers/{created['id']}")
    assert read["associatedPartnerId"] == RESELLER["tenant_id"]
    rels = await pc.ok("GET", f"/v1/customers/{created['id']}/relationships")
    assert [(r["id"], r["mpnId"]) for r in rels["items"]] == [
        (RESELLER["tenant_id"], RESELLER["mpn_id"])
    ]
    assert rels["items"][0]["attributes"]["objectType"] == "PartnerRelationship"


async def test_customer_without_reseller_has_no_relationships(pc: PartnerClient) -> None:
    created = await pc.new_customer("alone.onmicrosoft.com")
    assert "associatedPartnerId" not in created
    rels = await pc.ok("GET", f"/v1/customers/{created['id']}/relationships")
    assert rels["items"] == []
    assert rels["totalCount"] == 0


async def test_unrelated_reseller_as_associated_partner_is_refused_and_creates_nothing(
    pc: PartnerClient,
) -> None:
    stranger = await pc.sim(
        "POST", "/partners", {"name": "Stranger", "kind": "indirect_reseller", "country": "FR"}, 201
    )
    body = customer_body("unrelated.onmicrosoft.com", associatedPartnerId=stranger["tenantId"])
    error = await pc.fail("POST", "/v1/customers", body, 400, 800016)
    assert stranger["tenantId"] in error["description"]
    assert (await domain_status(pc, "unrelated.onmicrosoft.com"))[0] == 404
    assert await listed_ids(pc) == []


async def test_direct_partner_as_associated_partner_is_refused(pc: PartnerClient) -> None:
    body = customer_body("todirect.onmicrosoft.com", associatedPartnerId=PROVIDER["tenant_id"])
    await pc.fail("POST", "/v1/customers", body, 400, 800016)
    assert await listed_ids(pc) == []


async def test_domain_already_in_use_is_refused_naming_the_domain(pc: PartnerClient) -> None:
    first = await pc.new_customer("twice.onmicrosoft.com")
    error = await pc.fail(
        "POST", "/v1/customers", customer_body("Twice.onmicrosoft.com"), 400, 800002
    )
    assert "twice.onmicrosoft.com" in error["description"].lower()
    assert await listed_ids(pc) == [first["id"]]


async def test_domain_of_a_partner_tenant_is_in_use(pc: PartnerClient) -> None:
    await pc.fail(
        "POST",
        "/v1/customers",
        customer_body("contosodistribution.onmicrosoft.com"),
        400,
        800002,
    )


@pytest.mark.parametrize(
    "domain", ["contoso.com", "contoso", "-bad.onmicrosoft.com", "a b.onmicrosoft.com", ""]
)
async def test_malformed_domain_is_refused_naming_company_profile_domain(
    pc: PartnerClient, domain: str
) -> None:
    error = await pc.fail("POST", "/v1/customers", customer_body(domain), 400, 800002)
    assert "companyprofile.domain" in error["description"].lower()
    assert await listed_ids(pc) == []


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    body = customer_body("missing.onmicrosoft.com")
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


@pytest.mark.parametrize(
    "path",
    [
        ("billingProfile", "email"),
        ("billingProfile", "culture"),
        ("billingProfile", "language"),
        ("billingProfile", "companyName"),
        ("billingProfile", "defaultAddress"),
        ("billingProfile", "defaultAddress", "country"),
        ("billingProfile", "defaultAddress", "addressLine1"),
        ("billingProfile",),
        ("companyProfile",),
        ("companyProfile", "domain"),
    ],
)
async def test_missing_required_field_is_refused_naming_it(
    pc: PartnerClient, path: tuple[str, ...]
) -> None:
    error = await pc.fail("POST", "/v1/customers", _without(path), 400, 800002)
    assert ".".join(path).lower() in error["description"].lower()
    assert (await domain_status(pc, "missing.onmicrosoft.com"))[0] == 404


async def test_missing_field_is_named_in_camel_case_as_sent(pc: PartnerClient) -> None:
    error = await pc.fail(
        "POST",
        "/v1/customers",
        _without(("billingProfile", "defaultAddress", "country")),
        400,
        800002,
    )
    assert "billingProfile.defaultAddress.country" in error["description"]


async def test_malformed_email_is_refused_naming_it(pc: PartnerClient) -> None:
    body = customer_body("bademail.onmicrosoft.com")
    body["billingProfile"]["email"] = "not-an-email"
    error = await pc.fail("POST", "/v1/customers", body, 400, 800002)
    assert "billingprofile.email" in error["description"].lower()


async def test_body_that_is_not_json_is_a_400_not_a_500(pc: PartnerClient) -> None:
    resp = await pc.http.post(
        "/v1/customers",
        data=b"{not json",
        headers={"Authorization": f"Bearer {pc.token}", "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert (await resp.json())["code"] == 800002


@pytest.mark.parametrize("country", ["HU", "UA", "hu"])
async def test_registration_number_is_required_in_listed_countries(
    pc: PartnerClient, country: str
) -> None:
    error = await pc.fail(
        "POST", "/v1/customers", customer_body("noreg.onmicrosoft.com", country), 400, 600049
    )
    assert country.upper() in error["description"]
    assert await listed_ids(pc) == []


async def test_registration_number_is_kept_in_company_profile(pc: PartnerClient) -> None:
    body = customer_body("withreg.onmicrosoft.com", "HU")
    body["companyProfile"]["organizationRegistrationNumber"] = "01-09-123456"
    created = await pc.ok("POST", "/v1/customers", body, status=201)
    assert created["companyProfile"]["organizationRegistrationNumber"] == "01-09-123456"
    read = await pc.ok("GET", f"/v1/customers/{created['id']}")
    assert read["companyProfile"]["organizationRegistrationNumber"] == "01-09-123456"


async def test_registration_number_is_not_required_in_the_us(pc: PartnerClient) -> None:
    created = await pc.new_customer("usreg.onmicrosoft.com", "US")
    assert "organizationRegistrationNumber" not in created["companyProfile"]


# -- visibility ---------------------------------------------------------------------------------


async def test_another_partners_customer_is_403_20002(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    created = await pc.new_customer("private.onmicrosoft.com")
    error = await direct_pc.fail("GET", f"/v1/customers/{created['id']}", None, 403, 20002)
    assert created["id"] in error["description"]
    await direct_pc.fail("GET", f"/v1/customers/{created['id']}/relationships", None, 403, 20002)
    assert await listed_ids(direct_pc) == []


async def test_unknown_customer_id_is_403_20002(pc: PartnerClient) -> None:
    await pc.fail("GET", "/v1/customers/00000000-0000-4000-8000-00000000abcd", None, 403, 20002)


async def test_existing_tenant_is_invisible_until_it_accepts_the_relationship(
    pc: PartnerClient,
) -> None:
    body = {"domain": "joining.onmicrosoft.com", "companyName": "Joining", "country": "IT"}
    tenant = await pc.sim("POST", "/tenants", body, status=201)
    await pc.fail("GET", f"/v1/customers/{tenant['tenantId']}", None, 403, 20002)
    await pc.sim(
        "POST",
        f"/tenants/{tenant['tenantId']}/accept-relationship",
        {"partnerTenantId": PROVIDER["tenant_id"]},
    )
    read = await pc.ok("GET", f"/v1/customers/{tenant['tenantId']}")
    assert read["companyProfile"]["domain"] == "joining.onmicrosoft.com"
    assert await listed_ids(pc) == [tenant["tenantId"]]


# -- paging -------------------------------------------------------------------------------------


async def _customers(pc: PartnerClient, count: int) -> list[str]:
    return [(await pc.new_customer(f"page{i}.onmicrosoft.com"))["id"] for i in range(count)]


async def test_list_without_size_returns_every_customer_and_no_token(pc: PartnerClient) -> None:
    ids = await _customers(pc, 3)
    page = await pc.ok("GET", "/v1/customers")
    assert [c["id"] for c in page["items"]] == ids
    assert page["totalCount"] == 3
    assert "continuationToken" not in page
    assert "next" not in page["links"]
    assert page["attributes"]["objectType"] == "Collection"


async def test_seek_paging_walks_every_customer_once(pc: PartnerClient) -> None:
    ids = await _customers(pc, 3)
    first = await pc.ok("GET", "/v1/customers?size=2")
    assert [c["id"] for c in first["items"]] == ids[:2]
    token = first["continuationToken"]
    assert token
    assert first["links"]["next"]["headers"] == [{"key": "MS-ContinuationToken", "value": token}]
    assert "seekOperation=next" in first["links"]["next"]["uri"]
    second = await pc.ok(
        "GET",
        "/v1/customers?size=2&seekOperation=next",
        headers={"MS-ContinuationToken": token},
    )
    assert [c["id"] for c in second["items"]] == ids[2:]
    assert "continuationToken" not in second


async def test_following_a_token_with_nothing_after_is_400_2000(pc: PartnerClient) -> None:
    await _customers(pc, 2)
    first = await pc.ok("GET", "/v1/customers?size=2")
    await fail_with(
        pc,
        "GET",
        "/v1/customers?size=2&seekOperation=next",
        400,
        2000,
        headers={"MS-ContinuationToken": first["continuationToken"]},
    )


async def test_garbage_continuation_token_is_400_2000(pc: PartnerClient) -> None:
    await _customers(pc, 1)
    await fail_with(
        pc,
        "GET",
        "/v1/customers?size=2&seekOperation=next",
        400,
        2000,
        headers={"MS-ContinuationToken": "not-a-token!!"},
    )


async def test_another_partners_continuation_token_is_400_2000(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    await _customers(pc, 3)
    token = (await pc.ok("GET", "/v1/customers?size=1"))["continuationToken"]
    await fail_with(
        direct_pc,
        "GET",
        "/v1/customers?size=1&seekOperation=next",
        400,
        2000,
        headers={"MS-ContinuationToken": token},
    )


@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5"])
async def test_bad_page_size_is_400(pc: PartnerClient, size: str) -> None:
    resp = await pc.call("GET", f"/v1/customers?size={size}")
    body = await resp.json()
    assert resp.status == 400
    assert "size" in body["description"]


async def test_seek_next_without_token_is_400(pc: PartnerClient) -> None:
    await _customers(pc, 1)
    resp = await pc.call("GET", "/v1/customers?seekOperation=next")
    assert resp.status == 400


# -- relationship link and removal --------------------------------------------------------------


async def test_relationship_request_url_names_the_calling_partner(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    mine = await pc.ok("GET", "/v1/customers/relationshiprequests")
    assert f"partnerId={PROVIDER['tenant_id']}" in mine["url"]
    assert mine["url"].startswith("https://admin.microsoft.com/")
    assert mine["attributes"]["objectType"] == "RelationshipRequest"
    theirs = await direct_pc.ok("GET", "/v1/customers/relationshiprequests")
    assert PROVIDER["tenant_id"] not in theirs["url"]


async def _remove(pc: PartnerClient, customer_id: str) -> Any:
    return await pc.call(
        "PATCH", f"/v1/customers/{customer_id}", json={"relationshipToPartner": "none"}
    )


async def test_relationship_removal_is_refused_while_a_subscription_is_active(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription("keep.onmicrosoft.com")
    resp = await _remove(pc, customer_id)
    body = await resp.json()
    assert (resp.status, body["code"]) == (400, 800002)
    assert sub["id"] in body["description"]
    assert await listed_ids(pc) == [customer_id]
    await pc.ok("GET", f"/v1/customers/{customer_id}")


async def test_relationship_removal_after_suspending_hides_the_customer(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription("leave.onmicrosoft.com")
    suspended = await pc.ok(
        "PATCH", f"/v1/customers/{customer_id}/subscriptions/{sub['id']}", {"status": "suspended"}
    )
    assert suspended["status"] == "suspended"
    resp = await _remove(pc, customer_id)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["relationshipToPartner"] == "none"
    await pc.fail("GET", f"/v1/customers/{customer_id}", None, 403, 20002)
    assert await listed_ids(pc) == []
    assert (await domain_status(pc, "leave.onmicrosoft.com"))[0] == 200


async def test_relationship_removal_without_subscriptions_is_allowed(pc: PartnerClient) -> None:
    created = await pc.new_customer("empty.onmicrosoft.com")
    assert (await _remove(pc, created["id"])).status == 200
    assert await listed_ids(pc) == []


@pytest.mark.parametrize("value", ["reseller", "advisor", None])
async def test_relationship_patch_other_than_none_is_refused(
    pc: PartnerClient, value: str | None
) -> None:
    created = await pc.new_customer("stay.onmicrosoft.com")
    error = await pc.fail(
        "PATCH", f"/v1/customers/{created['id']}", {"relationshipToPartner": value}, 400, 800002
    )
    assert "relationshipToPartner" in error["description"]
    assert await listed_ids(pc) == [created["id"]]


async def test_another_partner_cannot_remove_the_relationship(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    created = await pc.new_customer("guarded.onmicrosoft.com")
    resp = await _remove(direct_pc, created["id"])
    assert resp.status == 403
    assert await listed_ids(pc) == [created["id"]]


async def test_reseller_of_record_on_a_subscription_is_a_relationship(pc: PartnerClient) -> None:
    customer_id, _ = await pc.customer_with_subscription("bought.onmicrosoft.com")
    rels = await pc.ok("GET", f"/v1/customers/{customer_id}/relationships")
    assert [r["id"] for r in rels["items"]] == [RESELLER["tenant_id"]]
    assert rels["items"][0]["relationshipType"] == "is_indirect_reseller_of"


async def test_another_providers_reseller_is_not_in_my_relationships(pc: PartnerClient) -> None:
    other = await pc.sim(
        "POST",
        "/partners",
        {"name": "Other Dist", "kind": "indirect_provider", "country": "DE"},
        201,
    )
    theirs = await pc.sim(
        "POST",
        "/partners",
        {"name": "Their Res", "kind": "indirect_reseller", "country": "DE"},
        201,
    )
    await pc.sim(
        "POST",
        f"/partners/{theirs['tenantId']}/accept-provider-invitation",
        {"providerTenantId": other["tenantId"]},
    )
    body = customer_body("shared.onmicrosoft.com", associatedPartnerId=RESELLER["tenant_id"])
    created = await pc.ok("POST", "/v1/customers", body, status=201)
    await pc.sim(
        "POST",
        f"/tenants/{created['id']}/accept-relationship",
        {"partnerTenantId": other["tenantId"], "indirectResellerTenantId": theirs["tenantId"]},
    )
    mine = await pc.ok("GET", f"/v1/customers/{created['id']}/relationships")
    assert [r["id"] for r in mine["items"]] == [RESELLER["tenant_id"]]
    other_pc = await pc.as_partner(other["clientId"], other["clientSecret"], other["tenantId"])
    seen = await other_pc.ok("GET", f"/v1/customers/{created['id']}/relationships")
    assert [r["id"] for r in seen["items"]] == [theirs["tenantId"]]


# -- idempotency and limits ---------------------------------------------------------------------


async def test_repeated_create_with_the_same_request_id_makes_one_customer(
    pc: PartnerClient,
) -> None:
    headers = {"MS-RequestId": "6f2c1f8e-1111-4c3b-9a55-0123456789ab"}
    body = customer_body("retry.onmicrosoft.com")
    first = await pc.ok("POST", "/v1/customers", body, status=201, headers=headers)
    again = await pc.ok("POST", "/v1/customers", body, status=201, headers=headers)
    assert again == first
    assert await listed_ids(pc) == [first["id"]]


async def test_sandbox_limit_refuses_the_76th_customer(pc: PartnerClient) -> None:
    await pc.sim("PUT", "/config", {"sandboxLimits": True})
    ids = await _customers(pc, 75)
    await pc.fail("POST", "/v1/customers", customer_body("extra.onmicrosoft.com"), 400, 800018)
    assert len(await listed_ids(pc)) == len(ids)
    assert (await domain_status(pc, "extra.onmicrosoft.com"))[0] == 404


async def test_customers_can_be_searched_by_domain_prefix_as_microsoft_filters(
    pc: PartnerClient,
) -> None:
    await pc.new_customer("contosoeu.onmicrosoft.com")
    await pc.new_customer("fabrikam.onmicrosoft.com")
    found = await pc.ok(
        "GET",
        '/v1/customers?filter={"Field":"Domain","Value":"CONTOSO","Operator":"starts_with"}',
    )
    assert [c["companyProfile"]["domain"] for c in found["items"]] == ["contosoeu.onmicrosoft.com"]
    by_name = await pc.ok(
        "GET",
        '/v1/customers?filter={"Field":"CompanyName","Value":"contoso","Operator":"starts_with"}',
    )
    assert by_name["totalCount"] == 2


@pytest.mark.parametrize(
    "query",
    ["not-json", '{"Field":"Email","Value":"x","Operator":"starts_with"}',
     '{"Field":"Domain","Value":"x","Operator":"equals"}', '{"Field":"Domain","Value":"","Operator":"starts_with"}'],
)  # fmt: skip
async def test_a_malformed_customer_filter_is_refused_naming_it(
    pc: PartnerClient, query: str
) -> None:
    error = await pc.fail("GET", f"/v1/customers?filter={query}", None, 400, 800002)
    assert "filter" in error["description"]
