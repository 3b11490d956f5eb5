"""``POST /v1/orders``: a purchase, validated strictly and resolved through the catalog before
anything is journaled, so bad input leaves no operation behind."""

from __future__ import annotations

from aiohttp import web

from contracts.northbound.operations import OperationView
from contracts.northbound.orders import PurchaseOrder
from contracts.openapi import Route
from contracts.partner_center.regions import EU_EFTA
from gateway.api.errors import ApiError, parse_body
from gateway.api.operations import KEY_HEADER, idempotency_key, submit
from gateway.catalog import LineRefused
from gateway.services import services
from gateway.upstream import UpstreamError


async def create_order(request: web.Request) -> web.Response:
    svc = services(request)
    idempotency_key(request)  # refused before the catalog is read
    order = parse_body(await request.read(), PurchaseOrder)
    reseller = order.reseller.mpn_id
    extra = order.additional_reseller_mpn_ids
    if len(set(extra)) != len(extra) or reseller in extra:
        raise ApiError(400, "invalid_request",
                       "additionalResellerMpnIds: a reseller is listed twice (or repeats the reseller of record)",
                       "additionalResellerMpnIds")  # fmt: skip
    new = order.customer.new_tenant
    country = new.address.country if new else svc.settings.catalog_country
    if extra and new is not None and country not in EU_EFTA:
        raise ApiError(400, "additional_resellers_outside_eu",
                       f"additionalResellerMpnIds: additional resellers are only for customers in "
                       f"EU/EFTA countries; this customer is in {country}", "additionalResellerMpnIds")  # fmt: skip
    payload = order.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        payload["resolvedLines"] = [
            await svc.catalog.resolve(line, index, country)
            for index, line in enumerate(payload["lines"])
        ]
    except LineRefused as exc:
        raise ApiError(400, exc.code, exc.message, exc.field) from None
    except UpstreamError as exc:
        raise ApiError(503, "partner_center_unavailable",
                       f"the catalog could not be read from Partner Center ({exc}); try again") from None  # fmt: skip
    return await submit(request, "purchase", payload)


ROUTES = [
    Route("POST", "/v1/orders", "Buy NCE subscriptions for an end customer through a reseller",
          OperationView, status=202, body=PurchaseOrder, headers={KEY_HEADER: "any unique string; repeats find the same operation"},
          errors=(422, 503), tag="orders"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1/orders", create_order)
