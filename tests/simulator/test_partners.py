"""Partner lookups over HTTP: MPN profiles, reseller MPA status and provider-reseller
relationships, including partners made through ``/_sim/partners``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import DIRECT, PROVIDER, RESELLER, PartnerClient

STATUS = "/v1/compliance/csp/agreementstatus"
PROVIDER_VIEW = "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf"
RESELLER_VIEW = "/v1/relationships?relationship_type=IsIndirectResellerOf"


async def new_reseller(pc: PartnerClient, **extra: Any) -> dict[str, Any]:
    body = {"name": "Adatum Resellers", "kind": "indirect_reseller", "country": "FR", **extra}
    return dict(await pc.sim("POST", "/partners", body, status=201))


async def accept_invitation(pc: PartnerClient, reseller_id: str) -> None:
    await pc.sim(
        "POST",
        f"/partners/{reseller_id}/accept-provider-invitation",
        {"providerTenantId": PROVIDER["tenant_id"]},
    )


async def status_error(pc: PartnerClient, query: str, code: int) -> dict[str, Any]:
    error = await pc.fail("GET", f"{STATUS}?{query}", None, 400, code)
    assert error["description"]
    return error


# -- MPN profiles -------------------------------------------------------------------------------


async def test_mpn_lookup_finds_the_default_reseller(pc: PartnerClient) -> None:
    body = await pc.ok("GET", f"/v1/profiles/mpn?mpnId={RESELLER['mpn_id']}")
    assert body["partnerName"] == "Fabrikam Resellers"
    assert body["mpnId"] == RESELLER["mpn_id"]
    assert body["profileType"] == "MpnProfile"
    assert body["attributes"]["objectType"] == "MpnProfile"
    assert body["links"]["self"]["uri"] == "/profiles/mpn"


async def test_mpn_lookup_of_an_unknown_id_is_404_3000_with_microsofts_text(
    pc: PartnerClient,
) -> None:
    error = await pc.fail("GET", "/v1/profiles/mpn?mpnId=9999999", None, 404, 3000)
    assert error["description"] == "Partner Organization with partner_id 9999999 could not be found"


async def test_mpn_lookup_without_an_id_returns_the_callers_profile(
    pc: PartnerClient, reseller_pc: PartnerClient
) -> None:
    mine = await pc.ok("GET", "/v1/profiles/mpn")
    assert (mine["mpnId"], mine["partnerName"]) == (PROVIDER["mpn_id"], "Contoso Distribution")
    theirs = await reseller_pc.ok("GET", "/v1/profiles/mpn")
    assert theirs["mpnId"] == RESELLER["mpn_id"]


async def test_mpn_lookup_finds_a_reseller_made_in_the_control_plane(pc: PartnerClient) -> None:
    made = await new_reseller(pc, mpnId="7654321", name="Litware Partners")
    body = await pc.ok("GET", "/v1/profiles/mpn?mpnId=7654321")
    assert (body["partnerName"], body["mpnId"]) == ("Litware Partners", made["mpnId"])


# -- MPA status ---------------------------------------------------------------------------------


async def test_mpa_status_of_the_default_reseller_by_mpn_is_signed(pc: PartnerClient) -> None:
    body = await pc.ok("GET", f"{STATUS}?mpnId={RESELLER['mpn_id']}")
    assert body["isAgreementSigned"] is True


async def test_mpa_status_of_the_default_reseller_by_tenant_is_signed(pc: PartnerClient) -> None:
    body = await pc.ok("GET", f"{STATUS}?tenantId={RESELLER['tenant_id']}")
    assert body["isAgreementSigned"] is True


async def test_mpa_status_of_a_reseller_that_has_not_signed_is_false(pc: PartnerClient) -> None:
    made = await new_reseller(pc, mpaSigned=False)
    by_mpn = await pc.ok("GET", f"{STATUS}?mpnId={made['mpnId']}")
    by_tenant = await pc.ok("GET", f"{STATUS}?tenantId={made['tenantId']}")
    assert by_mpn["isAgreementSigned"] is False
    assert by_tenant["isAgreementSigned"] is False


async def test_mpa_status_with_both_ids_is_400_2000(pc: PartnerClient) -> None:
    await status_error(pc, f"mpnId={RESELLER['mpn_id']}&tenantId={RESELLER['tenant_id']}", 2000)


async def test_mpa_status_with_neither_id_is_400_2001(pc: PartnerClient) -> None:
    await status_error(pc, "", 2001)


async def test_mpa_status_with_a_non_numeric_mpn_is_400_2000(pc: PartnerClient) -> None:
    error = await status_error(pc, "mpnId=12ab", 2000)
    assert error["description"] == "MPN Id must be numeric."


async def test_mpa_status_with_a_non_guid_tenant_is_400_2000(pc: PartnerClient) -> None:
    error = await status_error(pc, "tenantId=not-a-guid", 2000)
    assert "GUID" in error["description"]


async def test_mpa_status_of_an_unknown_mpn_is_400_2200(pc: PartnerClient) -> None:
    error = await status_error(pc, "mpnId=123456", 2200)
    assert "123456" in error["description"]


async def test_mpa_status_of_an_unknown_tenant_is_400_2205(pc: PartnerClient) -> None:
    await status_error(pc, "tenantId=00000000-0000-4000-8000-000000000099", 2205)


@pytest.mark.parametrize(
    "query",
    [
        f"mpnId={PROVIDER['mpn_id']}",
        f"mpnId={DIRECT['mpn_id']}",
        f"tenantId={PROVIDER['tenant_id']}",
        f"tenantId={DIRECT['tenant_id']}",
    ],
)
async def test_mpa_status_of_a_provider_or_direct_partner_is_400_2204(
    pc: PartnerClient, query: str
) -> None:
    await status_error(pc, query, 2204)


async def test_mpa_status_of_a_customer_tenant_is_400_2205(pc: PartnerClient) -> None:
    customer = await pc.new_customer("notapartner.onmicrosoft.com")
    await status_error(pc, f"tenantId={customer['id']}", 2205)


# -- relationships ------------------------------------------------------------------------------


async def test_provider_sees_the_default_reseller(pc: PartnerClient) -> None:
    body = await pc.ok("GET", PROVIDER_VIEW)
    assert body["totalCount"] == 1
    assert body["items"] == [
        {
            "id": RESELLER["tenant_id"],
            "name": "Fabrikam Resellers",
            "relationshipType": "is_indirect_cloud_solution_provider_of",
            "state": "Active",
            "mpnId": RESELLER["mpn_id"],
            "location": "IT",
            "attributes": {"objectType": "PartnerRelationship"},
        }
    ]


async def test_reseller_sees_its_provider(reseller_pc: PartnerClient) -> None:
    body = await reseller_pc.ok("GET", RESELLER_VIEW)
    assert [(i["id"], i["mpnId"], i["relationshipType"]) for i in body["items"]] == [
        (PROVIDER["tenant_id"], PROVIDER["mpn_id"], "is_indirect_reseller_of")
    ]
    assert body["items"][0]["state"] == "Active"


async def test_relationship_type_matches_case_insensitively(pc: PartnerClient) -> None:
    body = await pc.ok(
        "GET", "/v1/relationships?relationship_type=isindirectcloudsolutionproviderof"
    )
    assert [i["id"] for i in body["items"]] == [RESELLER["tenant_id"]]


async def test_direct_partner_has_no_resellers(direct_pc: PartnerClient) -> None:
    assert (await direct_pc.ok("GET", PROVIDER_VIEW))["items"] == []


async def test_new_reseller_appears_only_after_accepting_the_invitation(
    pc: PartnerClient,
) -> None:
    made = await new_reseller(pc)
    before = await pc.ok("GET", PROVIDER_VIEW)
    assert made["tenantId"] not in [i["id"] for i in before["items"]]
    await accept_invitation(pc, made["tenantId"])
    after = await pc.ok("GET", PROVIDER_VIEW)
    entry = next(i for i in after["items"] if i["id"] == made["tenantId"])
    assert (entry["mpnId"], entry["location"], entry["name"]) == (
        made["mpnId"],
        "FR",
        "Adatum Resellers",
    )


async def test_new_reseller_sees_the_provider_after_accepting(pc: PartnerClient) -> None:
    made = await new_reseller(pc)
    reseller = await pc.as_partner(made["clientId"], made["clientSecret"], made["tenantId"])
    assert (await reseller.ok("GET", RESELLER_VIEW))["items"] == []
    await accept_invitation(pc, made["tenantId"])
    items = (await reseller.ok("GET", RESELLER_VIEW))["items"]
    assert [i["id"] for i in items] == [PROVIDER["tenant_id"]]


@pytest.mark.parametrize(
    "query", ["", "?relationship_type=", "?relationship_type=IsPartnerOf", "?other=1"]
)
async def test_missing_or_unknown_relationship_type_is_400(pc: PartnerClient, query: str) -> None:
    error = await pc.fail("GET", f"/v1/relationships{query}", None, 400, 800002)
    assert "relationship_type" in error["description"]
