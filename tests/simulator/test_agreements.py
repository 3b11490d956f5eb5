"""Agreements over HTTP: MCA metadata, confirming a customer's acceptance, and the purchase rule
that needs it (403 / 13605 at checkout)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.simulator.conftest import MCA_BODY, PartnerClient, line

MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"

#: Microsoft's confirm-customer-consent sample, verbatim.
MICROSOFT_SAMPLE = {
    "primaryContact": {
        "firstName": "Tania",
        "lastName": "Carr",
        "email": "someone@example.com",
        "phoneNumber": "1234567890",
    },
    "templateId": MCA_TEMPLATE,
    "dateAgreed": "2018-06-14T00:00:00.000Z",
    "type": "MicrosoftCustomerAgreement",
}


async def agreements_of(pc: PartnerClient, customer_id: str, query: str = "") -> list[Any]:
    body = await pc.ok("GET", f"/v1/customers/{customer_id}/agreements{query}")
    return list(body["items"])


# -- metadata -----------------------------------------------------------------------------------


async def test_mca_metadata_has_microsofts_template_link_and_rank(pc: PartnerClient) -> None:
    body = await pc.ok("GET", "/v1/agreements?agreementType=MicrosoftCustomerAgreement")
    assert body["totalCount"] == 1
    item = body["items"][0]
    assert item["templateId"] == MCA_TEMPLATE
    assert item["agreementType"] == "MicrosoftCustomerAgreement"
    assert item["agreementLink"] == "https://aka.ms/customeragreement"
    assert item["versionRank"] == 0


async def test_metadata_type_matches_case_insensitively(pc: PartnerClient) -> None:
    body = await pc.ok("GET", "/v1/agreements?agreementtype=microsoftcustomeragreement")
    assert [i["templateId"] for i in body["items"]] == [MCA_TEMPLATE]


async def test_metadata_defaults_to_the_microsoft_cloud_agreement(pc: PartnerClient) -> None:
    body = await pc.ok("GET", "/v1/agreements")
    assert [i["agreementType"] for i in body["items"]] == ["MicrosoftCloudAgreement"]
    assert body["items"][0]["templateId"] != MCA_TEMPLATE


async def test_metadata_for_all_lists_both_agreements(pc: PartnerClient) -> None:
    body = await pc.ok("GET", "/v1/agreements?agreementType=All")
    assert {i["agreementType"] for i in body["items"]} == {
        "MicrosoftCloudAgreement",
        "MicrosoftCustomerAgreement",
    }


async def test_metadata_for_an_unknown_type_is_400_naming_it(pc: PartnerClient) -> None:
    error = await pc.fail("GET", "/v1/agreements?agreementType=Nonsense", None, 400, 800002)
    assert "Nonsense" in error["description"]


# -- acceptance ---------------------------------------------------------------------------------


async def test_accepting_the_mca_echoes_the_body_with_a_user_id(pc: PartnerClient) -> None:
    customer = await pc.new_customer("mca.onmicrosoft.com")
    body = await pc.ok(
        "POST", f"/v1/customers/{customer['id']}/agreements", MICROSOFT_SAMPLE, status=201
    )
    assert body["primaryContact"] == MICROSOFT_SAMPLE["primaryContact"]
    assert body["templateId"] == MCA_TEMPLATE
    assert body["type"] == "MicrosoftCustomerAgreement"
    assert body["dateAgreed"].startswith("2018-06-14T00:00:00")
    assert body["userId"]


async def test_accepted_mca_is_listed_for_the_customer(pc: PartnerClient) -> None:
    customer = await pc.new_customer("listmca.onmicrosoft.com")
    accepted = await pc.ok(
        "POST", f"/v1/customers/{customer['id']}/agreements", MICROSOFT_SAMPLE, status=201
    )
    listed = await agreements_of(pc, customer["id"], "?agreementType=MicrosoftCustomerAgreement")
    assert [(a["templateId"], a["userId"]) for a in listed] == [(MCA_TEMPLATE, accepted["userId"])]
    assert listed[0]["primaryContact"]["email"] == "someone@example.com"


async def test_agreement_list_filters_by_type(pc: PartnerClient) -> None:
    customer = await pc.new_customer("filter.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    assert await agreements_of(pc, customer["id"], "?agreementType=MicrosoftCloudAgreement") == []
    assert len(await agreements_of(pc, customer["id"], "?agreementType=All")) == 1
    assert len(await agreements_of(pc, customer["id"])) == 1


async def test_agreement_list_for_an_unknown_type_is_400(pc: PartnerClient) -> None:
    customer = await pc.new_customer("unknowntype.onmicrosoft.com")
    error = await pc.fail(
        "GET", f"/v1/customers/{customer['id']}/agreements?agreementType=Bogus", None, 400, 800002
    )
    assert "Bogus" in error["description"]


async def test_a_new_customer_has_no_agreements(pc: PartnerClient) -> None:
    customer = await pc.new_customer("noagreement.onmicrosoft.com")
    assert await agreements_of(pc, customer["id"]) == []


async def test_accepting_again_answers_201_and_both_are_listed(pc: PartnerClient) -> None:
    customer = await pc.new_customer("twice.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    again = await pc.ok("POST", f"/v1/customers/{customer['id']}/agreements", MCA_BODY, 201)
    assert again["templateId"] == MCA_TEMPLATE
    assert len(await agreements_of(pc, customer["id"])) == 2


async def test_wrong_template_id_is_400_naming_it_and_records_nothing(pc: PartnerClient) -> None:
    customer = await pc.new_customer("wrongtemplate.onmicrosoft.com")
    body = {**MCA_BODY, "templateId": "00000000-0000-0000-0000-000000000000"}
    error = await pc.fail("POST", f"/v1/customers/{customer['id']}/agreements", body, 400, 800002)
    assert "templateId" in error["description"]
    assert "00000000-0000-0000-0000-000000000000" in error["description"]
    assert await agreements_of(pc, customer["id"]) == []


async def test_unknown_agreement_type_is_400_and_records_nothing(pc: PartnerClient) -> None:
    customer = await pc.new_customer("badtype.onmicrosoft.com")
    body = {**MCA_BODY, "type": "MicrosoftPartnerAgreement"}
    error = await pc.fail("POST", f"/v1/customers/{customer['id']}/agreements", body, 400, 800002)
    assert "type" in error["description"]
    assert await agreements_of(pc, customer["id"]) == []


def _broken(path: tuple[str, ...], value: Any = None) -> dict[str, Any]:
    body = copy.deepcopy(MCA_BODY)
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("primaryContact",), None, "primarycontact"),
        (("primaryContact", "email"), None, "primarycontact.email"),
        (("primaryContact", "email"), "nobody", "primarycontact.email"),
        (("primaryContact", "firstName"), None, "primarycontact.firstname"),
        (("templateId",), None, "templateid"),
        (("dateAgreed",), None, "dateagreed"),
        (("dateAgreed",), "yesterday", "dateagreed"),
    ],
)
async def test_bad_acceptance_body_is_400_naming_the_field_and_records_nothing(
    pc: PartnerClient, path: tuple[str, ...], value: Any, named: str
) -> None:
    customer = await pc.new_customer("badbody.onmicrosoft.com")
    error = await pc.fail(
        "POST", f"/v1/customers/{customer['id']}/agreements", _broken(path, value), 400, 800002
    )
    assert named in error["description"].lower()
    assert await agreements_of(pc, customer["id"]) == []


async def test_another_partner_cannot_accept_or_read_agreements(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer = await pc.new_customer("foreign.onmicrosoft.com")
    path = f"/v1/customers/{customer['id']}/agreements"
    await direct_pc.fail("POST", path, MCA_BODY, 403, 20002)
    await direct_pc.fail("GET", path, None, 403, 20002)
    assert await agreements_of(pc, customer["id"]) == []


# -- the purchase rule --------------------------------------------------------------------------


async def _checkout(pc: PartnerClient, customer_id: str) -> Any:
    cart = await pc.ok(
        "POST",
        f"/v1/customers/{customer_id}/carts",
        {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True},
        status=201,
    )
    return await pc.call("POST", f"/v1/customers/{customer_id}/carts/{cart['id']}/checkout")


async def test_purchase_without_mca_is_403_13605_and_creates_nothing(pc: PartnerClient) -> None:
    customer = await pc.new_customer("nomca.onmicrosoft.com")
    resp = await _checkout(pc, customer["id"])
    body = await resp.json()
    assert (resp.status, body["code"]) == (403, 13605)
    assert "Microsoft Customer Agreement" in body["description"]
    subs = await pc.ok("GET", f"/v1/customers/{customer['id']}/subscriptions")
    assert subs["items"] == []


async def test_purchase_after_mca_succeeds(pc: PartnerClient) -> None:
    customer = await pc.new_customer("withmca.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    resp = await _checkout(pc, customer["id"])
    assert resp.status == 201, await resp.text()
    subs = await pc.ok("GET", f"/v1/customers/{customer['id']}/subscriptions")
    assert len(subs["items"]) == 1


async def test_cloud_agreement_alone_does_not_allow_a_purchase(pc: PartnerClient) -> None:
    customer = await pc.new_customer("cloudonly.onmicrosoft.com")
    cloud = (await pc.ok("GET", "/v1/agreements"))["items"][0]
    body = {**MCA_BODY, "templateId": cloud["templateId"], "type": "MicrosoftCloudAgreement"}
    await pc.ok("POST", f"/v1/customers/{customer['id']}/agreements", body, status=201)
    resp = await _checkout(pc, customer["id"])
    assert (resp.status, (await resp.json())["code"]) == (403, 13605)


async def test_acceptance_without_phone_echoes_the_contact_as_sent(pc: PartnerClient) -> None:
    customer = await pc.new_customer("nophone.onmicrosoft.com")
    body = await pc.ok("POST", f"/v1/customers/{customer['id']}/agreements", MCA_BODY, 201)
    assert body["primaryContact"] == MCA_BODY["primaryContact"]
