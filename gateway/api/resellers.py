"""``GET /v1/resellers/{mpnId}``: the reseller onboarding check on its own, so a marketplace can
tell a reseller what is missing before it takes an order."""

from __future__ import annotations

import re

from aiohttp import web

from contracts.northbound.base import Outbound
from contracts.openapi import Route
from gateway.api.errors import ApiError
from gateway.api.inputs import shown
from gateway.resellers import check_reseller
from gateway.services import services
from gateway.upstream import UpstreamError

MPN = re.compile(r"^\d{1,10}$")
DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$")


class ResellerView(Outbound):
    """``ready`` when the reseller can be named on an order; otherwise ``nextStep`` says what
    the reseller must do, and ``partnerCenterCode`` keeps Microsoft's refusal if there was one."""

    mpn_id: str
    domain: str | None = None
    name: str | None = None
    tenant_id: str | None = None
    mpn_found: bool
    mpa_signed: bool | None = None
    accepted_invitation: bool
    ready: bool
    next_step: str | None = None
    partner_center_code: int | None = None


async def get_reseller(request: web.Request) -> web.Response:
    svc = services(request)
    mpn_id = request.match_info["mpn"]
    if not MPN.match(mpn_id):
        raise ApiError(
            400, "invalid_request", f"mpnId {shown(mpn_id)} must be 1 to 10 digits", "mpnId"
        )
    domain = request.query.get("domain")
    if domain is not None and not DOMAIN.match(domain.lower()):
        raise ApiError(400, "invalid_request",
                       f"domain {shown(domain)} must be the reseller's name.onmicrosoft.com domain", "domain")  # fmt: skip
    try:
        check = await check_reseller(svc.reads, svc.caches.resellers, mpn_id)
    except UpstreamError as exc:
        raise ApiError(503, "partner_center_unavailable",
                       f"Partner Center did not answer ({exc}); try again") from None  # fmt: skip
    view = ResellerView(
        mpn_id=mpn_id,
        domain=domain.lower() if domain else None,
        name=check.name,
        tenant_id=check.tenant_id,
        mpn_found=check.refused is None or check.refused.code == 2204,
        mpa_signed=check.mpa_signed,
        accepted_invitation=check.ready,
        ready=check.ready,
        next_step=check.next_step,
        partner_center_code=check.refused.code if check.refused else None,
    )
    return web.json_response(view.model_dump(mode="json", by_alias=True, exclude_none=True))


ROUTES = [
    Route("GET", "/v1/resellers/{mpn}", "Is this reseller ready to sell through us? What is missing?",
          ResellerView, query={"domain": "the reseller's name.onmicrosoft.com domain (checked for form)"},
          errors=(503,), tag="resellers"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/resellers/{mpn}", get_reseller)
