"""Partner lookups: MPN profiles, reseller MPA status, and provider-reseller relationships.

Resellers and providers are made with ``POST /_sim/partners``; a reseller appears in its
provider's relationship list once ``POST /_sim/partners/{id}/accept-provider-invitation`` ran.

LIMITATIONS:
- MPA status answers ``{"isAgreementSigned": false}`` for a reseller that has not signed, rather
  than the region-specific 2203 / 2206 errors; regions are not modelled (no 2201).
- Relationships never end and are never suspended (``state`` is always ``Active``).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from simulator.context import partner_of, world_of
from simulator.errors import PartnerCenterError
from simulator.models import Partner
from simulator.wire import collection, link, query_one, respond
from simulator.world import World

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _compliance_error(code: int, description: str) -> PartnerCenterError:
    return PartnerCenterError(code, status=400, description=description, source="PartnerFD")


def render_relationship(partner: Partner, relationship_type: str) -> dict[str, Any]:
    return {
        "id": partner.tenant_id,
        "name": partner.name,
        "relationshipType": relationship_type,
        "state": "Active",
        "mpnId": partner.mpn_id,
        "location": partner.country,
        "attributes": {"objectType": "PartnerRelationship"},
    }


def resellers_of(world: World, provider: Partner) -> list[Partner]:
    return [
        p
        for p in world.partners.values()
        if p.kind == "indirect_reseller" and provider.tenant_id in p.accepted_providers
    ]


async def mpn_profile(request: web.Request) -> web.Response:
    world, caller = world_of(request), partner_of(request)
    mpn_id = query_one(request, "mpnId")
    partner = caller if mpn_id is None else world.partners_by_mpn.get(mpn_id.strip())
    if partner is None:
        raise PartnerCenterError(3000, mpn_id)
    return respond(
        {
            "partnerName": partner.name,
            "mpnId": partner.mpn_id,
            "profileType": "MpnProfile",
            "links": {"self": link("/profiles/mpn")},
            "attributes": {"objectType": "MpnProfile"},
        }
    )


async def agreement_status(request: web.Request) -> web.Response:
    world = world_of(request)
    mpn_id, tenant_id = query_one(request, "mpnId"), query_one(request, "tenantId")
    if mpn_id and tenant_id:
        raise _compliance_error(2000, "Please provide either an MPN Id or a Tenant Id, not both.")
    if not mpn_id and not tenant_id:
        raise _compliance_error(2001, "Either MPN Id or Tenant Id must be provided.")
    if mpn_id:
        if not mpn_id.isdigit():
            raise _compliance_error(2000, "MPN Id must be numeric.")
        partner = world.partners_by_mpn.get(mpn_id)
        if partner is None:
            raise _compliance_error(
                2200,
                f"Requested MPN Id {mpn_id} is either invalid or does not exist in Partner Center.",
            )
    else:
        assert tenant_id is not None
        if not GUID.match(tenant_id):
            raise _compliance_error(2000, "Tenant Id must be a GUID.")
        partner = world.partners.get(tenant_id.lower())
        if partner is None:
            raise _compliance_error(
                2205, f"Requested Tenant Id {tenant_id} does not exist in Partner Center."
            )
    if partner.kind != "indirect_reseller":
        raise _compliance_error(
            2204, f"Requested partner {partner.mpn_id} is not a CSP indirect reseller."
        )
    return respond({"isAgreementSigned": partner.mpa_signed})


async def relationships(request: web.Request) -> web.Response:
    world, caller = world_of(request), partner_of(request)
    kind = (query_one(request, "relationship_type") or "").lower()
    if kind == "isindirectcloudsolutionproviderof":
        items = [
            render_relationship(p, "is_indirect_cloud_solution_provider_of")
            for p in resellers_of(world, caller)
        ]
    elif kind == "isindirectresellerof":
        items = [
            render_relationship(world.partners[t], "is_indirect_reseller_of")
            for t in caller.accepted_providers
            if t in world.partners
        ]
    else:
        raise PartnerCenterError(
            800002,
            "relationship_type must be IsIndirectCloudSolutionProviderOf or IsIndirectResellerOf",
        )
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/profiles/mpn", mpn_profile)
    router.add_get("/v1/compliance/csp/agreementstatus", agreement_status)
    router.add_get("/v1/relationships", relationships)
